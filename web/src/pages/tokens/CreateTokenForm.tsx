// A new personal API token: name, access (scopes), expiry.
import { useId, useState, type FormEvent } from "react";
import { errorText } from "../../api/client";
import { roleAtLeast, type Role } from "../../auth/AuthProvider";
import { scopesFor, type Access } from "../../lib/tokenFormat";

export interface NewToken {
  name: string;
  scopes: Access[];
  expires_in_days: number;
}

interface Props {
  /** The signed-in user's role: a token never does more than its owner. */
  role: Role | undefined;
  onCreate: (token: NewToken) => Promise<void>;
}

const ACCESS: { value: Access; needs: Role; label: string; help: string }[] = [
  { value: "read", needs: "viewer", label: "Read", help: "read jobs, builds, logs and workers" },
  {
    value: "write",
    needs: "developer",
    label: "Read and write",
    help: "also create and edit jobs, trigger, cancel and retry builds",
  },
  {
    value: "admin",
    needs: "admin",
    label: "Admin",
    help: "also manage users, workers, secrets and agent tokens",
  },
];

const EXPIRY_DAYS = [7, 30, 90, 365] as const;
const MAX_DAYS = 3650;

export function CreateTokenForm({ role, onCreate }: Props) {
  const id = useId();
  const [name, setName] = useState("");
  const [access, setAccess] = useState<Access>("read");
  const [expiry, setExpiry] = useState<string>("90");
  const [customDays, setCustomDays] = useState("180");
  const [nameError, setNameError] = useState<string | null>(null);
  const [daysError, setDaysError] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const offered = ACCESS.filter((a) => a.needs === "viewer" || roleAtLeast(role, a.needs));

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    const trimmed = name.trim();
    const nameProblem = !trimmed
      ? "Enter a name that says where the token is used, e.g. “laptop CLI”."
      : trimmed.length > 200
        ? "A name has at most 200 characters."
        : null;
    const days = Number(expiry === "custom" ? customDays : expiry);
    const daysProblem =
      Number.isInteger(days) && days >= 1 && days <= MAX_DAYS
        ? null
        : `Enter a whole number of days from 1 to ${MAX_DAYS}.`;
    setNameError(nameProblem);
    setDaysError(daysProblem);
    if (nameProblem || daysProblem) return;
    setBusy(true);
    try {
      await onCreate({ name: trimmed, scopes: scopesFor(access), expires_in_days: days });
      setName("");
    } catch (caught) {
      setError(errorText(caught));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form method="post" className="card create-token" onSubmit={submit} noValidate aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`}>Create a token</h2>
      <div className="form-grid">
        <div>
          <label htmlFor={`${id}-name`}>Name</label>
          <input
            id={`${id}-name`}
            name="token-name"
            autoComplete="off"
            placeholder="e.g. laptop CLI"
            value={name}
            onChange={(event) => setName(event.target.value)}
            aria-invalid={nameError ? true : undefined}
            aria-describedby={nameError ? `${id}-name-error` : undefined}
          />
          {nameError && (
            <p id={`${id}-name-error`} className="error small field-error">
              {nameError}
            </p>
          )}
          <label htmlFor={`${id}-expiry`}>Expires after</label>
          <select id={`${id}-expiry`} value={expiry} onChange={(event) => setExpiry(event.target.value)}>
            {EXPIRY_DAYS.map((days) => (
              <option key={days} value={String(days)}>
                {days} days
              </option>
            ))}
            <option value="custom">Other…</option>
          </select>
          {expiry === "custom" && (
            <>
              <label htmlFor={`${id}-days`}>Days until it expires</label>
              <input
                id={`${id}-days`}
                type="number"
                inputMode="numeric"
                min={1}
                max={MAX_DAYS}
                step={1}
                value={customDays}
                onChange={(event) => setCustomDays(event.target.value)}
                aria-invalid={daysError ? true : undefined}
                aria-describedby={daysError ? `${id}-days-error` : undefined}
              />
            </>
          )}
          {daysError && (
            <p id={`${id}-days-error`} className="error small field-error">
              {daysError}
            </p>
          )}
        </div>
        <fieldset className="access">
          <legend>Access</legend>
          {offered.map((option) => (
            <label key={option.value} className="checkbox access-option">
              <input
                type="radio"
                name={`${id}-access`}
                value={option.value}
                checked={access === option.value}
                onChange={() => setAccess(option.value)}
              />
              <span>
                <strong>{option.label}</strong>
                <span className="muted small"> — {option.help}</span>
              </span>
            </label>
          ))}
          <p className="muted small field-hint">
            A token can never do more than you can; give it the least it needs.
          </p>
        </fieldset>
      </div>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <div className="row form-actions">
        <button type="submit" className="button" disabled={busy}>
          {busy ? "Creating…" : "Create token"}
        </button>
      </div>
    </form>
  );
}
