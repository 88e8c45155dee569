// The plugins table: presentational, the server's answer comes in as props.
import { Fragment } from "react";
import type { Plugin } from "../../api/client";
import { StatusBadge } from "../../components/StatusBadge";
import { inReadingOrder, isTrouble, provided, whereLoaded } from "./plugins";

export function PluginsTable({ plugins }: { plugins: readonly Plugin[] }) {
  return (
    <div className="table-wrap">
      <table className="pl-table">
        <caption className="visually-hidden">Plugins of the server and its agents</caption>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Version</th>
            <th scope="col">Provides</th>
            <th scope="col">Loaded in</th>
            <th scope="col">Built in</th>
            <th scope="col">Status</th>
          </tr>
        </thead>
        <tbody>
          {inReadingOrder(plugins).map((plugin) => {
            const key = `${plugin.loaded_in}:${plugin.worker ?? ""}:${plugin.name}`;
            const errorId = `plugin-error-${key}`;
            const kinds = provided(plugin.provides);
            return (
              <Fragment key={key}>
                <tr className={isTrouble(plugin) ? "pl-trouble" : undefined}>
                  <th scope="row" className="pl-name" aria-describedby={plugin.error ? errorId : undefined}>
                    {plugin.name}
                  </th>
                  <td className="mono">{plugin.version ?? <span className="muted">–</span>}</td>
                  <td>
                    {kinds.length === 0 ? (
                      <span className="muted">nothing</span>
                    ) : (
                      <dl className="pl-provides" aria-label={`What ${plugin.name} provides`}>
                        {kinds.map(({ kind, label, names }) => (
                          <div key={kind}>
                            <dt>{label}</dt>
                            <dd>{names.join(", ")}</dd>
                          </div>
                        ))}
                      </dl>
                    )}
                  </td>
                  <td>{whereLoaded(plugin)}</td>
                  <td>{plugin.builtin ? "yes" : "no"}</td>
                  <td>
                    <StatusBadge status={plugin.status} />
                  </td>
                </tr>
                {plugin.error && (
                  <tr className="pl-error-row">
                    <td colSpan={6}>
                      <p className="error small pl-error" id={errorId}>
                        <strong>{plugin.name}</strong> {plugin.status}: {plugin.error}
                      </p>
                    </td>
                  </tr>
                )}
              </Fragment>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
