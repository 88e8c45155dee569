// A secret the server shows once (an API token, an agent registration token). It lives only in
// the state of the page that created it: dismissing it or leaving the page drops it. It is never
// logged, put in a URL, or kept in the query cache.
import { useId, type ReactNode } from "react";
import { CopyField } from "../../components/CopyField";

export { CopyField };

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
