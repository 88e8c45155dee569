// The workers table and the remove dialog: presentational, everything comes in as props.
import { Link } from "react-router";
import type { Worker } from "../../api/client";
import { ConfirmDialog } from "../../components/Dialog";
import { StatusBadge } from "../../components/StatusBadge";
import { formatRelative, formatTime } from "../../lib/format";
import { WorkerPlugins } from "./WorkerPlugins";

/** Where a worker's builds are listed: the builds page reads ?worker=<id> (BuildsPage.tsx). */
export function workerBuildsHref(workerId: string): string {
  return `/builds?${new URLSearchParams({ worker: workerId })}`;
}

export type WorkerAction = "drain" | "resume" | "remove";

interface WorkersTableProps {
  workers: Worker[];
  /** Admins see Drain / Resume / Remove. */
  canManage: boolean;
  now: number;
  /** The worker whose action is in flight, if any. */
  busyId?: string | null;
  /** An action's error per worker id, shown in that worker's row. */
  errors?: Readonly<Record<string, string>>;
  onAction?: (worker: Worker, action: WorkerAction) => void;
}

export function WorkersTable({ workers, canManage, now, busyId = null, errors = {}, onAction }: WorkersTableProps) {
  return (
    <div className="table-wrap">
      <table className="wk-table">
        <caption className="visually-hidden">Registered workers</caption>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Status</th>
            <th scope="col">Current builds</th>
            <th scope="col" className="hide-narrow">
              Labels
            </th>
            <th scope="col" className="hide-narrow">
              Executors
            </th>
            <th scope="col" className="hide-narrow">
              Plugins
            </th>
            <th scope="col" className="hide-narrow">
              Concurrency
            </th>
            <th scope="col" className="hide-narrow">
              Host
            </th>
            <th scope="col">Last heartbeat</th>
            {canManage && <th scope="col">Actions</th>}
          </tr>
        </thead>
        <tbody>
          {workers.map((worker) => {
            const busy = busyId === worker.id;
            const error = errors[worker.id];
            return (
              <tr key={worker.id}>
                <th scope="row" className="wk-name">
                  {worker.name}
                </th>
                <td>
                  <StatusBadge status={worker.status} />
                  {worker.health_status && worker.health_status !== "healthy" && (
                    <div className="small muted">health: {worker.health_status}</div>
                  )}
                </td>
                <td>
                  <Link
                    to={workerBuildsHref(worker.id)}
                    aria-label={`${worker.current_builds} of ${worker.concurrency} builds running on ${worker.name}: see its builds`}
                  >
                    {worker.current_builds} <span className="muted">of {worker.concurrency}</span>
                  </Link>
                </td>
                <td className="hide-narrow">
                  {worker.labels.length === 0 ? (
                    <span className="muted">none</span>
                  ) : (
                    <ul className="wk-labels" aria-label={`Labels of ${worker.name}`}>
                      {worker.labels.map((label) => (
                        <li key={label}>{label}</li>
                      ))}
                    </ul>
                  )}
                </td>
                <td className="hide-narrow">{worker.executors.join(", ") || "–"}</td>
                <td className="hide-narrow">
                  <WorkerPlugins worker={worker} />
                </td>
                <td className="hide-narrow">{worker.concurrency}</td>
                <td className="hide-narrow">
                  {worker.hostname || "–"}
                  {worker.ip && <div className="muted mono small">{worker.ip}</div>}
                </td>
                <td title={formatTime(worker.last_heartbeat)}>
                  <time dateTime={worker.last_heartbeat}>{formatRelative(worker.last_heartbeat, now)}</time>
                </td>
                {canManage && (
                  <td>
                    <div className="wk-actions">
                      {worker.status === "draining" ? (
                        <button
                          type="button"
                          className="secondary"
                          disabled={busy}
                          onClick={() => onAction?.(worker, "resume")}
                          aria-label={`Resume ${worker.name}`}
                        >
                          Resume
                        </button>
                      ) : (
                        worker.status === "online" && (
                          <button
                            type="button"
                            className="secondary"
                            disabled={busy}
                            onClick={() => onAction?.(worker, "drain")}
                            aria-label={`Drain ${worker.name}`}
                            title="Stop giving it new builds; the ones it runs finish"
                          >
                            Drain
                          </button>
                        )
                      )}
                      <button
                        type="button"
                        className="danger"
                        disabled={busy}
                        onClick={() => onAction?.(worker, "remove")}
                        aria-label={`Remove ${worker.name}`}
                      >
                        Remove
                      </button>
                    </div>
                    {error && (
                      <p className="error small wk-row-error" role="alert">
                        {error}
                      </p>
                    )}
                  </td>
                )}
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

interface RemoveDialogProps {
  /** The worker to remove; null keeps the dialog closed. */
  worker: Worker | null;
  busy: boolean;
  error: string | null;
  onConfirm: () => void;
  onClose: () => void;
}

/** Asks before removing a worker; the server's refusal (409: it holds builds) shows inside. */
export function RemoveWorkerDialog({ worker, busy, error, onConfirm, onClose }: RemoveDialogProps) {
  return (
    <ConfirmDialog
      open={worker !== null}
      title={`Remove worker ${worker?.name ?? ""}?`}
      confirmLabel="Remove worker"
      busyLabel="Removing…"
      danger
      busy={busy}
      error={error}
      onConfirm={onConfirm}
      onCancel={onClose}
    >
      <p>
        Its token stops working and it disappears from this list. The builds it ran stay. An agent still
        running under this name can register again.
      </p>
    </ConfirmDialog>
  );
}
