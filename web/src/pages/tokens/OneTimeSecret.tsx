// A secret the server shows once (an API token, an agent registration token). It lives only in
// the state of the page that created it: dismissing it or leaving the page drops it. It is never
// logged, put in a URL, or kept in the query cache.
import { useEffect, useId, useRef, useState, type ReactNode } from "react";

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

interface OneTimeSecretProps {
  title: string;
  /** What the secret is, as the field's label ("API token"). */
  label: string;
  value: string;
  onDismiss: () => void;
  /** How to use it; may show the value again (e.g. in a command line). */
  children?: ReactNode;
}

export function OneTimeSecret({ title, label, value, onDismiss, children }: OneTimeSecretProps) {
  const noteId = useId();
  const titleId = useId();
  return (
    <section className="card one-time-secret" aria-labelledby={titleId}>
      <h3 id={titleId}>{title}</h3>
      <p id={noteId} className="one-time-note">
        <strong>Store it now: it will not be shown again.</strong> The server keeps only a hash of
        it. If it is lost, revoke it and create a new one.
      </p>
      <CopyField label={label} value={value} describedBy={noteId} autoFocus />
      {children}
      <div className="row">
        <button type="button" className="button secondary" onClick={onDismiss}>
          Done, hide it
        </button>
      </div>
    </section>
  );
}
