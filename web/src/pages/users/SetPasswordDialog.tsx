// An admin sets a new password for another user (PATCH /users/{id} {password}).
import { useId, useState, type FormEvent } from "react";
import { ApiError, errorText } from "../../api/client";
import { Modal } from "../../components/Dialog";
import { PasswordInputs } from "./PasswordInputs";
import { fieldErrorsFrom, hasErrors, validatePasswordPair, type FieldErrors } from "./validation";

interface Props {
  open: boolean;
  username: string;
  onSubmit: (password: string) => Promise<void>;
  onClose: () => void;
}

export function SetPasswordDialog({ open, username, onSubmit, onClose }: Props) {
  return (
    <Modal open={open} title={`New password for ${username}`} onClose={onClose}>
      {/* Mounted only while open: the typed password goes with it when it closes. */}
      <SetPasswordForm username={username} onSubmit={onSubmit} onClose={onClose} />
    </Modal>
  );
}

function SetPasswordForm({ username, onSubmit, onClose }: Omit<Props, "open">) {
  const [password, setPassword] = useState("");
  const [confirm, setConfirm] = useState("");
  const [errors, setErrors] = useState<FieldErrors<"password" | "confirm">>({});
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const noteId = useId();

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const found = validatePasswordPair({ password, confirm });
    setErrors(found);
    setError(null);
    if (hasErrors(found)) return;
    setBusy(true);
    try {
      await onSubmit(password);
    } catch (caught) {
      if (caught instanceof ApiError) setErrors(fieldErrorsFrom(caught.details, ["password"] as const));
      setError(errorText(caught));
      setBusy(false);
    }
  };

  return (
    <form method="post" onSubmit={submit} noValidate aria-describedby={noteId}>
      <p id={noteId} className="muted small">
        {username}&rsquo;s login sessions end: they sign in again with the new password. Their
        personal API tokens keep working. Give them the password through a safe channel.
      </p>
      {/* Tells password managers whose password this is (and quiets Chrome's hint). */}
      <input type="text" name="username" autoComplete="username" value={username} readOnly hidden />
      <PasswordInputs
        password={password}
        confirm={confirm}
        errors={errors}
        onPassword={setPassword}
        onConfirm={setConfirm}
        label="New password"
        autoFocus
      />
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <div className="modal-actions">
        <button type="button" className="button secondary" onClick={onClose}>
          Cancel
        </button>
        <button type="submit" className="button" disabled={busy}>
          {busy ? "Saving…" : "Set password"}
        </button>
      </div>
    </form>
  );
}
