// A table of tokens, newest first, with revoke (confirmed first): a user's personal API tokens,
// and the agent registration tokens of the users page. Personal tokens also have an access
// level and an expiry; agent tokens have neither.
import { useState, type ReactNode } from "react";
import { errorText } from "../api/client";
import { formatDate, formatRelative, formatTime } from "../lib/format";
import { accessOf, formatUntil, STATE_LABEL, tokenState } from "../lib/tokenFormat";
import { ConfirmDialog } from "./Dialog";

export interface RevocableToken {
  id: string;
  name: string;
  created_at: string;
  last_used_at: string | null;
  revoked: boolean;
  revoked_at: string | null;
  scopes?: readonly string[];
  expires_at?: string | null;
}

interface Props<T extends RevocableToken> {
  tokens: readonly T[];
  kind: "personal" | "agent";
  caption: string;
  onRevoke: (token: T) => Promise<void>;
  /** What revoking does, said in the confirmation. */
  revokeWarning: ReactNode;
  now?: number;
}

const BADGE = { active: "badge-success", expired: "badge-queued", revoked: "badge-offline" } as const;

export function TokenTable<T extends RevocableToken>({
  tokens,
  kind,
  caption,
  onRevoke,
  revokeWarning,
  now = Date.now(),
}: Props<T>) {
  const [revoking, setRevoking] = useState<T | null>(null);
  const [busy, setBusy] = useState(false);
  const [failed, setFailed] = useState<{ id: string; text: string } | null>(null);
  const personal = kind === "personal";

  const revoke = async () => {
    if (!revoking) return;
    const target = revoking;
    setBusy(true);
    setFailed(null);
    try {
      await onRevoke(target);
    } catch (caught) {
      setFailed({ id: target.id, text: errorText(caught) });
    } finally {
      setBusy(false);
      setRevoking(null);
    }
  };

  return (
    <>
      <div className="table-wrap">
        <table>
          <caption className="visually-hidden">{caption}</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Status</th>
              {personal && (
                <th scope="col" className="hide-narrow">
                  Access
                </th>
              )}
              <th scope="col" className="hide-narrow">
                Created
              </th>
              <th scope="col">Last used</th>
              {personal && <th scope="col">Expires</th>}
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {tokens.map((token) => (
              <TokenRows
                key={token.id}
                token={token}
                personal={personal}
                now={now}
                error={failed?.id === token.id ? failed.text : null}
                onRevoke={() => {
                  setFailed(null);
                  setRevoking(token);
                }}
              />
            ))}
          </tbody>
        </table>
      </div>
      <ConfirmDialog
        open={revoking !== null}
        title={`Revoke “${revoking?.name ?? ""}”?`}
        confirmLabel="Revoke"
        danger
        busy={busy}
        onConfirm={() => void revoke()}
        onCancel={() => setRevoking(null)}
      >
        <p>{revokeWarning}</p>
      </ConfirmDialog>
    </>
  );
}

function TokenRows({
  token,
  personal,
  now,
  error,
  onRevoke,
}: {
  token: RevocableToken;
  personal: boolean;
  now: number;
  error: string | null;
  onRevoke: () => void;
}) {
  const state = tokenState(token, now);
  return (
    <>
      <tr className={state === "active" ? undefined : "token-inactive"}>
        <th scope="row">{token.name}</th>
        <td>
          <span
            className={`badge ${BADGE[state]}`}
            title={state === "revoked" ? `Revoked ${formatTime(token.revoked_at)}` : undefined}
          >
            {STATE_LABEL[state]}
            {state === "revoked" && token.revoked_at ? ` ${formatDate(token.revoked_at)}` : ""}
          </span>
        </td>
        {personal && <td className="hide-narrow">{accessOf(token.scopes ?? [])}</td>}
        <td className="hide-narrow">
          <time dateTime={token.created_at} title={formatTime(token.created_at)}>
            {formatDate(token.created_at)}
          </time>
        </td>
        <td>
          {token.last_used_at ? (
            <time dateTime={token.last_used_at} title={formatTime(token.last_used_at)}>
              {formatRelative(token.last_used_at, now)}
            </time>
          ) : (
            <span className="muted">never</span>
          )}
        </td>
        {personal && (
          <td>
            {token.expires_at ? (
              <time dateTime={token.expires_at} title={formatTime(token.expires_at)}>
                {state === "expired" ? formatDate(token.expires_at) : formatUntil(token.expires_at, now)}
              </time>
            ) : (
              "never"
            )}
          </td>
        )}
        <td>
          {state === "active" && (
            <button
              type="button"
              className="button secondary"
              onClick={onRevoke}
              aria-label={`Revoke ${token.name}`}
            >
              Revoke
            </button>
          )}
        </td>
      </tr>
      {error && (
        <tr className="row-message">
          <td colSpan={personal ? 7 : 5}>
            <p className="error" role="alert">
              Could not revoke {token.name}: {error}
            </p>
          </td>
        </tr>
      )}
    </>
  );
}
