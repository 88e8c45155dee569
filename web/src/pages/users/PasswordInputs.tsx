// A new password typed twice, with the server's rules shown and each field's problem under it.
import { useId, useState } from "react";
import { PASSWORD_RULES, type FieldErrors } from "./validation";

interface Props {
  password: string;
  confirm: string;
  errors: FieldErrors<"password" | "confirm">;
  onPassword: (value: string) => void;
  onConfirm: (value: string) => void;
  label?: string;
  autoFocus?: boolean;
  /** Shows the password as text (e.g. one just generated, for the admin to hand over). */
  reveal?: boolean;
}

export function PasswordInputs({
  password,
  confirm,
  errors,
  onPassword,
  onConfirm,
  label = "Password",
  autoFocus = false,
  reveal = false,
}: Props) {
  const id = useId();
  const [show, setShow] = useState(false);
  const visible = show || reveal;
  const type = visible ? "text" : "password";
  return (
    <div className="password-inputs">
      <label htmlFor={`${id}-password`}>{label}</label>
      <input
        id={`${id}-password`}
        name="new-password"
        type={type}
        autoComplete="new-password"
        autoFocus={autoFocus}
        value={password}
        onChange={(event) => onPassword(event.target.value)}
        aria-invalid={errors.password ? true : undefined}
        aria-describedby={`${id}-rules${errors.password ? ` ${id}-password-error` : ""}`}
        spellCheck={false}
      />
      <p id={`${id}-rules`} className="muted small field-hint">
        {PASSWORD_RULES}
      </p>
      {errors.password && (
        <p id={`${id}-password-error`} className="error small field-error">
          {errors.password}
        </p>
      )}
      <label htmlFor={`${id}-confirm`}>Repeat the {label.toLowerCase()}</label>
      <input
        id={`${id}-confirm`}
        name="confirm-password"
        type={type}
        autoComplete="new-password"
        value={confirm}
        onChange={(event) => onConfirm(event.target.value)}
        aria-invalid={errors.confirm ? true : undefined}
        aria-describedby={errors.confirm ? `${id}-confirm-error` : undefined}
        spellCheck={false}
      />
      {errors.confirm && (
        <p id={`${id}-confirm-error`} className="error small field-error">
          {errors.confirm}
        </p>
      )}
      {!reveal && (
        <label className="checkbox small">
          <input type="checkbox" checked={show} onChange={(event) => setShow(event.target.checked)} />
          Show the password
        </label>
      )}
    </div>
  );
}
