// One field of the job form: a label, its input, a hint and the error that belongs to it.
import type { ReactNode } from "react";

export interface FieldProps {
  id: string;
  label: string;
  hint?: string;
  error?: string;
  optional?: boolean;
  after?: ReactNode;
  children: (describedBy: string | undefined, invalid: true | undefined) => ReactNode;
}

/** A label, its input, a hint and the error that belongs to it, wired for screen readers. */
export function Field({ id, label, hint, error, optional, after, children }: FieldProps) {
  const describedBy = [hint ? `${id}-hint` : null, error ? `${id}-error` : null].filter(Boolean).join(" ");
  return (
    <div className="field">
      <label htmlFor={id}>
        {label} {optional && <span className="muted optional">(optional)</span>}
      </label>
      {children(describedBy || undefined, error ? true : undefined)}
      {after}
      {hint && (
        <p id={`${id}-hint`} className="muted small field-hint">
          {hint}
        </p>
      )}
      {error && (
        <p id={`${id}-error`} className="error small field-error">
          {error}
        </p>
      )}
    </div>
  );
}
