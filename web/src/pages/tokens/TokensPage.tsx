// Personal API tokens of the signed-in user (GET /tokens lists only the caller's own), and
// "Change my password".
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { useLocation } from "react-router";
import { api, unwrap, type Schemas } from "../../api/client";
import { useAuth } from "../../auth/AuthProvider";
import { ErrorMessage, Loading } from "../../components/Feedback";
import { TokenTable } from "../../components/TokenTable";
import { ChangePasswordForm } from "./ChangePasswordForm";
import { CreateTokenForm, type NewToken } from "./CreateTokenForm";
import { OneTimeSecret } from "./OneTimeSecret";
import "./tokens.css";

type ApiToken = Schemas["TokenRead"];

const KEY = ["tokens", "mine"] as const;

export function TokensPage() {
  const { user } = useAuth();
  const queryClient = useQueryClient();
  const location = useLocation();
  const tokens = useQuery({
    queryKey: KEY,
    queryFn: async () => unwrap(await api.GET("/api/v1/tokens")).items,
  });
  // The one-time value: this component's state only, so leaving the page drops it.
  const [secret, setSecret] = useState<{ name: string; value: string } | null>(null);

  // /tokens#change-password (linked from the users page) scrolls to the form.
  useEffect(() => {
    if (location.hash === "#change-password") {
      document.getElementById("change-password")?.scrollIntoView();
    }
  }, [location.hash]);

  const create = async (body: NewToken) => {
    setSecret(null);
    // A plain call, not a mutation: the value must not stay in the query client's cache.
    const created = unwrap(await api.POST("/api/v1/tokens", { body }));
    setSecret({ name: created.name, value: created.token });
    await queryClient.invalidateQueries({ queryKey: KEY });
  };

  const revoke = async (token: ApiToken) => {
    unwrap(await api.DELETE("/api/v1/tokens/{token_id}", { params: { path: { token_id: token.id } } }));
    await queryClient.invalidateQueries({ queryKey: KEY });
  };

  const changePassword = async (current: string, next: string) => {
    unwrap(
      await api.POST("/api/v1/users/me/password", {
        body: { current_password: current, new_password: next },
      }),
    );
  };

  const origin = window.location.origin;
  const list = tokens.data ?? [];

  return (
    <div className="acct tokens-page">
      <div className="page-head">
        <h1>API tokens</h1>
      </div>
      <p className="muted">
        Personal tokens let scripts and the <code>solvyd</code> CLI act as you
        {user ? ` (${user.username})` : ""}: send one as <code>Authorization: Bearer &lt;token&gt;</code>
        . They keep working when your password changes; revoke the ones you no longer use.
      </p>

      <CreateTokenForm role={user?.role} onCreate={create} />

      {secret && (
        <OneTimeSecret
          title={`Your new token “${secret.name}”`}
          label="API token"
          value={secret.value}
          onDismiss={() => setSecret(null)}
        >
          <p className="small">
            Use it with the CLI by setting <code>SOLVYD_URL={origin}</code> and{" "}
            <code>SOLVYD_TOKEN</code> to the token in the environment (a secret store or an env file
            is better than a command line, which shells keep in their history), or in any HTTP
            client as <code>Authorization: Bearer &lt;token&gt;</code>.
          </p>
        </OneTimeSecret>
      )}

      <h2>Your tokens</h2>
      {tokens.isPending ? (
        <Loading what="Loading your tokens" />
      ) : tokens.isError ? (
        <ErrorMessage error={tokens.error} />
      ) : list.length === 0 ? (
        <p className="muted empty">
          You have no API tokens yet. Create one above for a script or for the CLI (
          <code>solvyd login</code> also makes one for you).
        </p>
      ) : (
        <TokenTable
          tokens={list}
          kind="personal"
          caption="Your API tokens"
          onRevoke={revoke}
          revokeWarning={
            "It stops working at once, for every script or tool that uses it. This cannot be undone."
          }
        />
      )}

      <ChangePasswordForm username={user?.username} onChange={changePassword} />
    </div>
  );
}
