// Plugins (admins): what the server and each agent loaded, and why a plugin was refused or failed.
import { useQuery } from "@tanstack/react-query";
import { api, unwrap } from "../../api/client";
import { ErrorMessage, Loading } from "../../components/Feedback";
import { PluginsTable } from "./PluginsTable";
import { isTrouble } from "./plugins";
import "./plugins.css";

export function PluginsPage() {
  // Under "workers": an agent reports its plugins when it registers, and the live stream
  // refreshes "workers" queries then (lib/events.ts).
  const plugins = useQuery({
    queryKey: ["workers", "plugins"],
    queryFn: async () => unwrap(await api.GET("/api/v1/plugins")),
  });
  const troubled = plugins.data?.plugins.filter(isTrouble).length ?? 0;
  return (
    <>
      <div className="page-head">
        <h1>Plugins</h1>
        {plugins.isSuccess && <span className="muted">plugin API {plugins.data.api_version}</span>}
      </div>
      <p className="muted">
        Executors, notifiers, forges and artifact stores, built in or installed as Python packages (entry point
        group <code>solvyd.plugins</code>). The server lists its own; each agent reports its executors when it
        registers.
      </p>
      {plugins.isPending ? (
        <Loading what="Loading plugins" />
      ) : plugins.isError ? (
        <ErrorMessage error={plugins.error} />
      ) : (
        <>
          {troubled > 0 && (
            <p className="error" role="alert">
              {troubled === 1 ? "1 plugin is" : `${troubled} plugins are`} not loaded: the reason is under{" "}
              {troubled === 1 ? "it" : "each"}.
            </p>
          )}
          {plugins.data.plugins.length === 0 ? (
            <p className="muted">No plugins.</p>
          ) : (
            <PluginsTable plugins={plugins.data.plugins} />
          )}
        </>
      )}
    </>
  );
}
