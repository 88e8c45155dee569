// The signed-in user's personal API tokens, newest first, with revoke (confirmed first).
import { useState } from "react";
import { errorText, type Schemas } from "../../api/client";
import { formatRelative, formatTime } from "../../lib/format";
import { ConfirmDialog } from "./Dialog";
import { accessOf, formatDate, formatUntil, STATE_LABEL, tokenState } from "./tokenFormat";

export type ApiToken = Schemas["TokenRead"];

interface Props {
  tokens: ApiToken[];
  onRevoke: (token: ApiToken) => Promise<void>;
  now?: number;
}

const BADGE = { active: "badge-success", expired: "badge-queued", revoked: "badge-offline" } as const;

export function TokenTable({ tokens, onRevoke, now = Date.now() }: Props) {
  const [revoking, setRevoking] = useState<ApiToken | null>(null);
  const [busy, setBusy] = useState(false);
  const [failed, setFailed] = useState<{ id: string; text: string } | null>(null);

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
          <caption className="visually-hidden">Your API tokens</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Status</th>
              <th scope="col" className="hide-narrow">
                Access
              </th>
              <th scope="col" className="hide-narrow">
                Created
              </th>
              <th scope="col">Last used</th>
              <th scope="col">Expires</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {tokens.map((token) => {
              const state = tokenState(token, now);
              return (
                <TokenRows
                  key={token.id}
                  token={token}
                  state={state}
                  now={now}
                  error={failed?.id === token.id ? failed.text : null}
                  onRevoke={() => {
                    setFailed(null);
                    setRevoking(token);
                  }}
                />
              );
            })}
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
        <p>It stops working at once, for every script or tool that uses it. This cannot be undone.</p>
      </ConfirmDialog>
    </>
  );
}

function TokenRows({
  token,
  state,
  now,
  error,
  onRevoke,
}: {
  token: ApiToken;
  state: ReturnType<typeof tokenState>;
  now: number;
  error: string | null;
  onRevoke: () => void;
}) {
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
        <td className="hide-narrow">{accessOf(token.scopes)}</td>
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
        <td>
          {token.expires_at ? (
            <time dateTime={token.expires_at} title={formatTime(token.expires_at)}>
              {state === "expired" ? formatDate(token.expires_at) : formatUntil(token.expires_at, now)}
            </time>
          ) : (
            "never"
          )}
        </td>
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
          <td colSpan={7}>
            <p className="error" role="alert">
              Could not revoke {token.name}: {error}
            </p>
          </td>
        </tr>
      )}
    </>
  );
}
