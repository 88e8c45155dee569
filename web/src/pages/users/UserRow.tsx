// One user in the admin's table: role select (saved with PATCH), enable/disable, new password.
// The server decides what is allowed (the last enabled admin cannot be demoted or disabled);
// its answer shows in a line under the row.
import { useId, useState } from "react";
import { Link } from "react-router";
import { errorText, type User } from "../../api/client";
import type { Role } from "../../auth/AuthProvider";
import { ConfirmDialog } from "../../components/Dialog";
import { formatDate, formatTime } from "../../lib/format";
import { SetPasswordDialog } from "./SetPasswordDialog";
import { ROLES } from "./validation";

export type UserChange = { role: Role } | { disabled: boolean } | { password: string };

interface UserRowProps {
  user: User;
  /** The signed-in admin's own row. */
  isSelf: boolean;
  onUpdate: (change: UserChange) => Promise<void>;
}

type Dialog = null | "toggle" | "password" | "demote-self";
type Message = { kind: "error" | "ok"; text: string } | null;

export const COLUMNS = 5;

export function UserRow({ user, isSelf, onUpdate }: UserRowProps) {
  // The role picked but not saved yet; null follows the server's.
  const [draft, setDraft] = useState<Role | null>(null);
  const role = draft ?? user.role;
  const [busy, setBusy] = useState<null | "role" | "toggle">(null);
  const [dialog, setDialog] = useState<Dialog>(null);
  const [message, setMessage] = useState<Message>(null);
  const selectId = useId();
  const messageId = useId();
  const dirty = role !== user.role;

  const run = async (kind: "role" | "toggle", change: UserChange, ok: string) => {
    setBusy(kind);
    setMessage(null);
    try {
      await onUpdate(change);
      setDraft(null);
      setMessage({ kind: "ok", text: ok });
      setDialog(null);
    } catch (error) {
      // The dialog closes and focus goes back to the row: the answer shows right under it.
      if ("role" in change) setDraft(null);
      setDialog(null);
      setMessage({ kind: "error", text: errorText(error) });
    } finally {
      setBusy(null);
    }
  };

  const saveRole = () => {
    if (isSelf && user.role === "admin" && role !== "admin" && dialog !== "demote-self") {
      setDialog("demote-self");
      return;
    }
    void run("role", { role }, `Role changed to ${role}.`);
  };

  const toggle = () =>
    void run(
      "toggle",
      { disabled: !user.disabled },
      user.disabled ? `${user.username} is enabled again.` : `${user.username} is disabled.`,
    );

  return (
    <>
      <tr className={user.disabled ? "user-disabled" : undefined}>
        <th scope="row">
          <span className="user-name">{user.username}</span>
          {isSelf && <span className="badge you-badge">you</span>}
        </th>
        <td>
          <div className="role-cell">
            <label htmlFor={selectId} className="visually-hidden">
              Role of {user.username}
            </label>
            <select
              id={selectId}
              value={role}
              onChange={(event) => {
                setDraft(event.target.value as Role);
                setMessage(null);
              }}
              disabled={busy === "role"}
              aria-describedby={message ? messageId : undefined}
            >
              {ROLES.map((r) => (
                <option key={r} value={r}>
                  {r}
                </option>
              ))}
            </select>
            {dirty && (
              <>
                <button type="button" className="button" onClick={saveRole} disabled={busy === "role"}>
                  {busy === "role" ? "Saving…" : "Save"}
                </button>
                <button
                  type="button"
                  className="button secondary"
                  onClick={() => setDraft(null)}
                  disabled={busy === "role"}
                >
                  Undo
                </button>
              </>
            )}
          </div>
        </td>
        <td>
          {user.disabled ? (
            <span className="badge badge-offline">Disabled</span>
          ) : (
            <span className="badge badge-success">Enabled</span>
          )}
        </td>
        <td className="hide-narrow">
          <time dateTime={user.created_at} title={formatTime(user.created_at)}>
            {formatDate(user.created_at)}
          </time>
        </td>
        <td>
          <div className="row-actions">
            {isSelf ? (
              <Link to="/tokens#change-password" className="button secondary">
                Change my password
              </Link>
            ) : (
              <>
                <button
                  type="button"
                  className="button secondary"
                  onClick={() => setDialog("password")}
                >
                  Set password
                </button>
                <button
                  type="button"
                  className={user.disabled ? "button secondary" : "button danger"}
                  onClick={() => setDialog("toggle")}
                  disabled={busy === "toggle"}
                >
                  {user.disabled ? "Enable" : "Disable"}
                </button>
              </>
            )}
          </div>
          <ConfirmDialog
            open={dialog === "toggle"}
            title={user.disabled ? `Enable ${user.username}?` : `Disable ${user.username}?`}
            confirmLabel={user.disabled ? "Enable" : "Disable"}
            danger={!user.disabled}
            busy={busy === "toggle"}
            onConfirm={toggle}
            onCancel={() => setDialog(null)}
          >
            {user.disabled ? (
              <p>
              They can sign in again, and their API tokens that are neither revoked nor expired
              work again.
            </p>
            ) : (
              <p>
                They are signed out everywhere at once, and can neither sign in nor use their API
                tokens until an admin enables them again.
              </p>
            )}
          </ConfirmDialog>
          <ConfirmDialog
            open={dialog === "demote-self"}
            title="Give up your admin role?"
            confirmLabel={`Become ${role}`}
            danger
            busy={busy === "role"}
            onConfirm={saveRole}
            onCancel={() => setDialog(null)}
          >
            <p>
              You will no longer manage users, workers, secrets or agent tokens, and this page will
              close for you. Another admin would have to give the role back.
            </p>
          </ConfirmDialog>
          <SetPasswordDialog
            open={dialog === "password"}
            username={user.username}
            onSubmit={async (password) => {
              await onUpdate({ password });
              setDialog(null);
              setMessage({
                kind: "ok",
                text: `New password set for ${user.username}; their login sessions have ended.`,
              });
            }}
            onClose={() => setDialog(null)}
          />
        </td>
      </tr>
      {message && (
        <tr className="row-message">
          <td colSpan={COLUMNS}>
            <p
              id={messageId}
              className={message.kind === "error" ? "error" : "ok-message"}
              role={message.kind === "error" ? "alert" : "status"}
            >
              {message.kind === "error" ? `${user.username}: ${message.text}` : message.text}
            </p>
          </td>
        </tr>
      )}
    </>
  );
}
