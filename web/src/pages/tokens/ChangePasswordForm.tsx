// The signed-in user's own password (POST /users/me/password {current_password, new_password}).
// The server ends the user's other login sessions; this one and the API tokens stay.
import { useId, useState, type FormEvent } from "react";
import { ApiError, errorText, type ErrorDetail } from "../../api/client";
import { PasswordInputs } from "../users/PasswordInputs";
import {
  fieldErrorsFrom,
  hasErrors,
  MAX_PASSWORD_LENGTH,
  validatePasswordPair,
  type FieldErrors,
} from "../users/validation";

interface Props {
  /** The signed-in user's name, for password managers. */
  username?: string;
  onChange: (current: string, next: string) => Promise<void>;
}

type Field = "current" | "password" | "confirm";

/** The server's field names (a 422's details) as this form's. */
function renameField(detail: ErrorDetail): ErrorDetail {
  const names: Record<string, string> = { new_password: "password", current_password: "current" };
  const field = names[detail.field ?? ""];
  return field ? { ...detail, field } : detail;
}

export function ChangePasswordForm({ username, onChange }: Props) {
  const id = useId();
  const [current, setCurrent] = useState("");
  const [password, setPassword] = useState("");
  const [confirm, setConfirm] = useState("");
  const [errors, setErrors] = useState<FieldErrors<Field>>({});
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState(false);
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const found: FieldErrors<Field> = validatePasswordPair({ password, confirm });
    if (!current) found.current = "Enter your current password.";
    else if (current.length > MAX_PASSWORD_LENGTH) found.current = "That is not your current password.";
    else if (!found.password && current === password)
      found.password = "The new password is the same as the current one.";
    setErrors(found);
    setError(null);
    setDone(false);
    if (hasErrors(found)) return;
    setBusy(true);
    try {
      await onChange(current, password);
      setCurrent("");
      setPassword("");
      setConfirm("");
      setDone(true);
    } catch (caught) {
      if (caught instanceof ApiError) {
        if (caught.status === 403) setErrors({ current: "This is not your current password." });
        else setErrors(fieldErrorsFrom(caught.details.map(renameField), ["current", "password"] as const));
      }
      setError(
        caught instanceof ApiError && caught.status === 401
          ? "Your session has ended; sign in again to change your password."
          : errorText(caught),
      );
    } finally {
      setBusy(false);
    }
  };

  return (
    <form
      method="post"
      className="card change-password"
      onSubmit={submit}
      noValidate
      aria-labelledby={`${id}-title`}
      id="change-password"
    >
      <h2 id={`${id}-title`}>Change my password</h2>
      <p className="muted small">
        Your other login sessions (other browsers and devices) end and must sign in again with the
        new password. This session and your API tokens keep working; revoke tokens above if they
        may have leaked.
      </p>
      <div className="form-narrow">
        {username && (
          // For password managers: the account whose password this is.
          <input type="text" name="username" autoComplete="username" value={username} readOnly hidden />
        )}
        <label htmlFor={`${id}-current`}>Current password</label>
        <input
          id={`${id}-current`}
          name="current-password"
          type="password"
          autoComplete="current-password"
          value={current}
          onChange={(event) => setCurrent(event.target.value)}
          aria-invalid={errors.current ? true : undefined}
          aria-describedby={errors.current ? `${id}-current-error` : undefined}
        />
        {errors.current && (
          <p id={`${id}-current-error`} className="error small field-error">
            {errors.current}
          </p>
        )}
        <PasswordInputs
          password={password}
          confirm={confirm}
          errors={errors}
          onPassword={setPassword}
          onConfirm={setConfirm}
          label="New password"
        />
      </div>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {done && (
        <p className="ok-message" role="status">
          Your password is changed. Your other sessions have been signed out.
        </p>
      )}
      <div className="row form-actions">
        <button type="submit" className="button" disabled={busy}>
          {busy ? "Changing…" : "Change password"}
        </button>
      </div>
    </form>
  );
}
