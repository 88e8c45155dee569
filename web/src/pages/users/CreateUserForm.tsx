// Add a user: username, role, password (the server does not generate one; "Generate" makes a
// random one here, shown so the admin can hand it over).
import { useId, useState, type FormEvent } from "react";
import { ApiError, errorText, type User } from "../../api/client";
import type { Role } from "../../auth/AuthProvider";
import { PasswordInputs } from "./PasswordInputs";
import {
  fieldErrorsFrom,
  hasErrors,
  ROLE_HELP,
  ROLES,
  USERNAME_RULES,
  validateNewUser,
  type FieldErrors,
  type NewUserField,
} from "./validation";

export interface NewUser {
  username: string;
  role: Role;
  password: string;
}

interface Props {
  onCreate: (user: NewUser) => Promise<User>;
}

const GENERATED_LENGTH = 20;
const ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";

/** A random password from the browser's CSPRNG (no ambiguous characters like l/1, O/0). */
export function generatePassword(length = GENERATED_LENGTH): string {
  const bytes = new Uint32Array(length);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => ALPHABET[b % ALPHABET.length]).join("");
}

export function CreateUserForm({ onCreate }: Props) {
  const id = useId();
  const [username, setUsername] = useState("");
  const [role, setRole] = useState<Role>("developer");
  const [password, setPassword] = useState("");
  const [confirm, setConfirm] = useState("");
  const [generated, setGenerated] = useState(false);
  const [errors, setErrors] = useState<FieldErrors<NewUserField>>({});
  const [error, setError] = useState<string | null>(null);
  const [created, setCreated] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const found = validateNewUser({ username, role, password, confirm });
    setErrors(found);
    setError(null);
    setCreated(null);
    if (hasErrors(found)) return;
    setBusy(true);
    try {
      const user = await onCreate({ username: username.trim(), role, password });
      setCreated(
        `${user.username} was created as ${user.role}. Give them the password through a safe ` +
          "channel; they can change it on their Tokens page.",
      );
      setUsername("");
      setPassword("");
      setConfirm("");
      setGenerated(false);
      setRole("developer");
    } catch (caught) {
      if (caught instanceof ApiError)
        setErrors(fieldErrorsFrom(caught.details, ["username", "role", "password"] as const));
      setError(errorText(caught));
    } finally {
      setBusy(false);
    }
  };

  const generate = () => {
    const value = generatePassword();
    setPassword(value);
    setConfirm(value);
    setGenerated(true);
    setErrors((e) => ({ ...e, password: undefined, confirm: undefined }));
  };

  return (
    <form method="post" className="card create-user" onSubmit={submit} noValidate aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`}>Add a user</h2>
      <div className="form-grid">
        <div>
          <label htmlFor={`${id}-username`}>Username</label>
          <input
            id={`${id}-username`}
            name="username"
            autoComplete="off"
            autoCapitalize="off"
            spellCheck={false}
            value={username}
            onChange={(event) => setUsername(event.target.value)}
            aria-invalid={errors.username ? true : undefined}
            aria-describedby={`${id}-username-hint${errors.username ? ` ${id}-username-error` : ""}`}
          />
          <p id={`${id}-username-hint`} className="muted small field-hint">
            {USERNAME_RULES}
          </p>
          {errors.username && (
            <p id={`${id}-username-error`} className="error small field-error">
              {errors.username}
            </p>
          )}
          <label htmlFor={`${id}-role`}>Role</label>
          <select
            id={`${id}-role`}
            name="role"
            value={role}
            onChange={(event) => setRole(event.target.value as Role)}
            aria-describedby={`${id}-role-hint`}
          >
            {ROLES.map((r) => (
              <option key={r} value={r}>
                {r}
              </option>
            ))}
          </select>
          <p id={`${id}-role-hint`} className="muted small field-hint">
            {role}: {ROLE_HELP[role]}.
          </p>
          {errors.role && <p className="error small field-error">{errors.role}</p>}
        </div>
        <div>
          <PasswordInputs
            password={password}
            confirm={confirm}
            errors={errors}
            reveal={generated}
            onPassword={(value) => {
              setPassword(value);
              setGenerated(false);
            }}
            onConfirm={setConfirm}
          />
          <button type="button" className="button secondary generate" onClick={generate}>
            Generate a password
          </button>
          {generated && (
            <p className="small muted" role="status">
              Generated and shown: copy it now to give to the user.
            </p>
          )}
        </div>
      </div>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {created && (
        <p className="ok-message" role="status">
          {created}
        </p>
      )}
      <div className="row form-actions">
        <button type="submit" className="button" disabled={busy}>
          {busy ? "Adding…" : "Add user"}
        </button>
      </div>
    </form>
  );
}
