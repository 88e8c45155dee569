// Agent registration tokens (admins): what `solvyd agent` presents to register, read from a file
// (`--token-file`) or SOLVYD_AGENT_TOKEN, never from its command line.
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useId, useState, type FormEvent } from "react";
import { api, errorText, unwrap, type Schemas } from "../../api/client";
import { ErrorMessage, Loading } from "../../components/Feedback";
import { TokenTable } from "../../components/TokenTable";
import { CopyField, OneTimeSecret } from "../tokens/OneTimeSecret";

type AgentToken = Schemas["AgentTokenRead"];
const KEY = ["agent-tokens"] as const;

/** The command that starts an agent against this server, with the token saved in `agent-token`. */
export function agentCommand(origin: string): string {
  return `solvyd agent --server ${origin} --token-file agent-token`;
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

  const revoke = async (token: AgentToken) => {
    unwrap(
      await api.DELETE("/api/v1/agent-tokens/{token_id}", {
        params: { path: { token_id: token.id } },
      }),
    );
    await queryClient.invalidateQueries({ queryKey: KEY });
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
          <p className="small">
            Save it in a file <code>agent-token</code> that only the agent&rsquo;s user can read
            (<code>chmod 600</code>), then start an agent on a build machine with:
          </p>
          <CopyField label="Command" value={agentCommand(origin)} />
          <p className="small muted">
            Or set <code>SOLVYD_AGENT_TOKEN</code> in the agent&rsquo;s environment (e.g. its
            service file). Never pass the token on the command line: every process on the machine
            can read it there.
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
        <TokenTable
          tokens={list}
          kind="agent"
          caption="Agent registration tokens"
          onRevoke={revoke}
          revokeWarning={
            "No new agent can register with it. Agents that registered with it keep their own " +
            "worker tokens and go on working; remove those on the Workers page."
          }
        />
      )}
    </section>
  );
}
