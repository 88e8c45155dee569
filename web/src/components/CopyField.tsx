// A read-only field with a Copy button: one-time tokens, webhook URLs, badge markdown.
import { useEffect, useId, useRef, useState } from "react";

type CopyState = "idle" | "copied" | "selected";

interface CopyFieldProps {
  label: string;
  value: string;
  /** Id of text that describes the field (read by screen readers with it). */
  describedBy?: string;
  autoFocus?: boolean;
}

/** A read-only field with a Copy button; without clipboard access the text is selected. */
export function CopyField({ label, value, describedBy, autoFocus = false }: CopyFieldProps) {
  const id = useId();
  const statusId = useId();
  const input = useRef<HTMLInputElement>(null);
  const [state, setState] = useState<CopyState>("idle");

  useEffect(() => {
    if (autoFocus) input.current?.focus();
  }, [autoFocus]);
  useEffect(() => setState("idle"), [value]);

  const select = () => {
    input.current?.focus();
    input.current?.select();
  };

  const copy = async () => {
    try {
      if (navigator.clipboard?.writeText) {
        await navigator.clipboard.writeText(value);
        setState("copied");
        return;
      }
    } catch {
      // Denied, or not a secure context (plain http on another host): select it instead.
    }
    select();
    let copied = false;
    try {
      copied = document.execCommand("copy");
    } catch {
      copied = false;
    }
    setState(copied ? "copied" : "selected");
  };

  return (
    <div className="copy-field">
      <label htmlFor={id}>{label}</label>
      <div className="copy-field-row">
        <input
          id={id}
          ref={input}
          className="mono"
          readOnly
          value={value}
          spellCheck={false}
          autoComplete="off"
          autoCapitalize="off"
          aria-describedby={[describedBy, statusId].filter(Boolean).join(" ")}
          onFocus={(event) => event.currentTarget.select()}
        />
        <button type="button" className="button" onClick={copy} aria-label={`Copy ${label.toLowerCase()}`}>
          {state === "copied" ? "Copied" : "Copy"}
        </button>
      </div>
      <p id={statusId} className="small muted copy-status" role="status" aria-live="polite">
        {state === "copied" && "Copied to the clipboard."}
        {state === "selected" && "Selected: press Ctrl+C (⌘C on a Mac) to copy it."}
      </p>
    </div>
  );
}
