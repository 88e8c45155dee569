// A worker's plugins as its agent reported them at registration: name, version, status, and
// the reason when one did not load.
import type { Worker } from "../../api/client";
import { StatusBadge } from "../../components/StatusBadge";
import "../plugins/plugins.css";

export function WorkerPlugins({ worker }: { worker: Worker }) {
  // An agent older than plugins reports none.
  const plugins = worker.plugins ?? [];
  if (plugins.length === 0) return <span className="muted">none reported</span>;
  return (
    <ul className="wk-plugins" aria-label={`Plugins of ${worker.name}`}>
      {plugins.map((plugin) => (
        <li key={plugin.name}>
          {plugin.name}
          {plugin.version && <span className="muted mono small"> {plugin.version}</span>}
          {/* On a line of its own, so the column stays narrow beside the other eight. */}
          <div>
            <StatusBadge status={plugin.status} />
          </div>
          {plugin.error && <p className="error small wk-plugin-error">{plugin.error}</p>}
        </li>
      ))}
    </ul>
  );
}
