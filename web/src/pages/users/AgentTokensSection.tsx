// Agent registration tokens (admins): what `solvyd agent --token` presents to register.
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useId, useState, type FormEvent } from "react";
import { api, errorText, unwrap, type Schemas } from "../../api/client";
import { ErrorMessage, Loading } from "../../components/Feedback";
import { formatRelative, formatTime } from "../../lib/format";
import { ConfirmDialog } from "../tokens/Dialog";
import { CopyField, OneTimeSecret } from "../tokens/OneTimeSecret";
import { formatDate } from "../tokens/tokenFormat";

type AgentToken = Schemas["AgentTokenRead"];
const KEY = ["agent-tokens"] as const;

/** The command that starts an agent against this server. */
export function agentCommand(origin: string, token: string): string {
  return `solvyd agent --server ${origin} --token ${token}`;
}

export function AgentTokensSection() {
  const queryClient = useQueryClient();
  const titleId = useId();
  const nameId = useId();
  const tokens = useQuery({
    queryKey: KEY,
    queryFn: async () => unwrap(await api.GET("/api/v1/agent-tokens")).items,
  });
  const [name, setName] = useState("");
  const [nameError, setNameError] = useState<string | null>(null);
  const [createError, setCreateError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  // The one-time value: in this component's state only, gone on "Done" or on leaving the page.
  const [secret, setSecret] = useState<{ name: string; value: string } | null>(null);
  const [revoking, setRevoking] = useState<AgentToken | null>(null);
  const [revokeBusy, setRevokeBusy] = useState(false);
  const [revokeError, setRevokeError] = useState<{ id: string; text: string } | null>(null);

  const create = async (event: FormEvent) => {
    event.preventDefault();
    const trimmed = name.trim();
    setCreateError(null);
    if (!trimmed) {
      setNameError("Enter a name, e.g. the machine the agents will run on.");
      return;
    }
    if (trimmed.length > 200) {
      setNameError("A name has at most 200 characters.");
      return;
    }
    setNameError(null);
    setBusy(true);
    setSecret(null);
    try {
      // A plain call, not a mutation: the value must not stay in the query client's cache.
      const created = unwrap(await api.POST("/api/v1/agent-tokens", { body: { name: trimmed } }));
      setSecret({ name: created.name, value: created.token });
      setName("");
      await queryClient.invalidateQueries({ queryKey: KEY });
    } catch (caught) {
      setCreateError(errorText(caught));
    } finally {
      setBusy(false);
    }
  };

  const revoke = async () => {
    if (!revoking) return;
    setRevokeBusy(true);
    setRevokeError(null);
    const target = revoking;
    try {
      unwrap(
        await api.DELETE("/api/v1/agent-tokens/{token_id}", {
          params: { path: { token_id: target.id } },
        }),
      );
      await queryClient.invalidateQueries({ queryKey: KEY });
    } catch (caught) {
      setRevokeError({ id: target.id, text: errorText(caught) });
    } finally {
      setRevokeBusy(false);
      setRevoking(null);
    }
  };

  const origin = window.location.origin;
  const list = tokens.data ?? [];

  return (
    <section aria-labelledby={titleId} className="agent-tokens">
      <h2 id={titleId}>Agent registration tokens</h2>
      <p className="muted">
        An agent presents one of these to register with this server (besides the server&rsquo;s
        own <code>SOLVYD_AGENT_TOKEN</code>). Revoking one stops new registrations with it; agents
        already registered keep working.
      </p>
      <form method="post" className="card inline-form" onSubmit={create} noValidate>
        <div className="inline-form-field">
          <label htmlFor={nameId}>Name of the new token</label>
          <input
            id={nameId}
            name="agent-token-name"
            autoComplete="off"
            placeholder="e.g. build-hosts-eu"
            value={name}
            onChange={(event) => setName(event.target.value)}
            aria-invalid={nameError ? true : undefined}
            aria-describedby={nameError ? `${nameId}-error` : undefined}
          />
        </div>
        <button type="submit" className="button" disabled={busy}>
          {busy ? "Creating…" : "Create token"}
        </button>
        {nameError && (
          <p id={`${nameId}-error`} className="error small field-error inline-form-message">
            {nameError}
          </p>
        )}
        {createError && (
          <p className="error inline-form-message" role="alert">
            {createError}
          </p>
        )}
      </form>

      {secret && (
        <OneTimeSecret
          title={`Agent registration token “${secret.name}”`}
          label="Registration token"
          value={secret.value}
          onDismiss={() => setSecret(null)}
        >
          <p className="small">Start an agent on a build machine with:</p>
          <CopyField label="Command" value={agentCommand(origin, secret.value)} />
          <p className="small muted">
            Or set <code>SOLVYD_AGENT_TOKEN</code> in the agent&rsquo;s environment (e.g. its
            service file) instead of <code>--token</code>, so the token stays out of shell history
            and process lists.
          </p>
        </OneTimeSecret>
      )}

      {tokens.isPending ? (
        <Loading what="Loading agent tokens" />
      ) : tokens.isError ? (
        <ErrorMessage error={tokens.error} />
      ) : list.length === 0 ? (
        <p className="muted empty">
          No registration tokens yet. Agents can still register with the server&rsquo;s{" "}
          <code>SOLVYD_AGENT_TOKEN</code>; create a token above to hand one out per machine or
          team, and revoke it on its own later.
        </p>
      ) : (
        <div className="table-wrap">
          <table>
            <caption className="visually-hidden">Agent registration tokens</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Status</th>
                <th scope="col" className="hide-narrow">
                  Created
                </th>
                <th scope="col">Last used</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {list.map((token) => (
                <AgentTokenRow
                  key={token.id}
                  token={token}
                  error={revokeError?.id === token.id ? revokeError.text : null}
                  onRevoke={() => {
                    setRevokeError(null);
                    setRevoking(token);
                  }}
                />
              ))}
            </tbody>
          </table>
        </div>
      )}
      <ConfirmDialog
        open={revoking !== null}
        title={`Revoke “${revoking?.name ?? ""}”?`}
        confirmLabel="Revoke"
        danger
        busy={revokeBusy}
        onConfirm={() => void revoke()}
        onCancel={() => setRevoking(null)}
      >
        <p>
          No new agent can register with it. Agents that registered with it keep their own worker
          tokens and go on working; remove those on the Workers page.
        </p>
      </ConfirmDialog>
    </section>
  );
}

function AgentTokenRow({
  token,
  error,
  onRevoke,
}: {
  token: AgentToken;
  error: string | null;
  onRevoke: () => void;
}) {
  return (
    <>
      <tr className={token.revoked ? "token-revoked" : undefined}>
        <th scope="row">{token.name}</th>
        <td>
          {token.revoked ? (
            <span className="badge badge-offline" title={formatTime(token.revoked_at)}>
              Revoked {formatDate(token.revoked_at)}
            </span>
          ) : (
            <span className="badge badge-success">Active</span>
          )}
        </td>
        <td className="hide-narrow">
          <time dateTime={token.created_at} title={formatTime(token.created_at)}>
            {formatDate(token.created_at)}
          </time>
        </td>
        <td>
          {token.last_used_at ? (
            <time dateTime={token.last_used_at} title={formatTime(token.last_used_at)}>
              {formatRelative(token.last_used_at)}
            </time>
          ) : (
            <span className="muted">never</span>
          )}
        </td>
        <td>
          {!token.revoked && (
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
          <td colSpan={5}>
            <p className="error" role="alert">
              Could not revoke {token.name}: {error}
            </p>
          </td>
        </tr>
      )}
    </>
  );
}
