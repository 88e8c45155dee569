// One environment: what runs there, its deploy history (older pages on demand), Approve / Reject
// on a deployment that waits for approval, Rollback (to the version before, or to a chosen
// earlier one) for developers, and for admins whether deployments there need an approval.
import { useState } from "react";
import { Link, useParams } from "react-router";
import { ApiError, errorText } from "../../api/client";
import { useAuth } from "../../auth/AuthProvider";
import { ConfirmDialog } from "../../components/Dialog";
import { ErrorMessage, Loading } from "../../components/Feedback";
import { formatRelative, formatTime, shortSha } from "../../lib/format";
import { useNow } from "../../lib/useNow";
import { DeploymentDecision, DeploymentStatusBadge, RolloutLog } from "./DeploymentParts";
import {
  asSentence,
  canRollBackTo,
  KIND_WORDS,
  previousVersion,
  rollbackOffered,
  type Deployment,
  type EnvironmentDetail,
} from "./deployments";
import { CurrentFacts } from "./EnvironmentsPage";
import { useEnvironment, useRollback, useSetApprovalRequired } from "./queries";
import "./environments.css";

export function EnvironmentPage() {
  const { name = "" } = useParams();
  const environment = useEnvironment(name);
  const now = useNow(30_000);
  if (environment.isPending) return <Loading what="Loading the environment" />;
  // An error with data is an older page's: the page stays, the error shows under the history.
  if (environment.data === undefined) {
    const missing = environment.error instanceof ApiError && [404, 422].includes(environment.error.status);
    return (
      <section>
        <h1>{name}</h1>
        {missing ? (
          <p className="error" role="alert">
            There is no environment named {name}. <Link to="/environments">See all environments</Link>.
          </p>
        ) : (
          <ErrorMessage error={environment.error} />
        )}
      </section>
    );
  }
  const pages = environment.data.pages;
  const detail = pages[0]!;
  const history = pages.flatMap((page) => page.history);
  return (
    <EnvironmentView
      detail={detail}
      history={history}
      now={now}
      more={environment.hasNextPage}
      loadingMore={environment.isFetchingNextPage}
      onMore={() => void environment.fetchNextPage()}
      moreError={environment.isFetchNextPageError ? environment.error : null}
    />
  );
}

interface EnvironmentViewProps {
  detail: EnvironmentDetail;
  history: Deployment[];
  now: number;
  more: boolean;
  loadingMore: boolean;
  onMore: () => void;
  moreError: unknown;
}

export function EnvironmentView({ detail, history, now, more, loadingMore, onMore, moreError }: EnvironmentViewProps) {
  const { can } = useAuth();
  const rollback = useRollback(detail.name);
  // What the open confirm dialog rolls back to: a chosen deployment, or "previous" (the server picks).
  const [rollingBack, setRollingBack] = useState<Deployment | "previous" | null>(null);
  const currentId = detail.current?.deployment_id;
  const previous = previousVersion(history, currentId);
  const mayRollBack = can("developer");

  const openRollback = (to: Deployment | "previous") => {
    rollback.reset();
    setRollingBack(to);
  };
  const chosen = rollingBack === "previous" ? previous : rollingBack;

  return (
    <section className="environment">
      <div className="page-head">
        <h1>
          <Link to="/environments">Environments</Link> <span className="muted">/</span> {detail.name}
        </h1>
        {detail.approval_required && <span className="env-chip">approval required</span>}
        <div className="spacer" />
        {mayRollBack && rollbackOffered(history, currentId, more) && (
          <button type="button" className="button danger" onClick={() => openRollback("previous")}>
            Rollback
          </button>
        )}
      </div>
      {rollback.isSuccess && (
        <p className="env-flash" role="status">
          Rollback #{rollback.data.number} to <span className="mono">{rollback.data.version}</span> is{" "}
          {rollback.data.status === "succeeded" ? "done" : "under way"}.
        </p>
      )}

      <div className="card env-section">
        <h2>Running there</h2>
        <div className="env-current">
          {detail.current ? (
            <CurrentFacts current={detail.current} now={now} />
          ) : (
            <p className="muted env-nothing">Nothing deployed yet.</p>
          )}
          {(detail.running || detail.waiting > 0) && (
            <p className="env-now">
              {detail.running && (
                <>
                  Now: <DeploymentStatusBadge status={detail.running.status} /> #{detail.running.number}{" "}
                  <span className="mono">{detail.running.version}</span>
                </>
              )}
              {detail.waiting > 0 && (
                <span className="muted">
                  {detail.waiting === 1 ? "1 deployment waits" : `${detail.waiting} deployments wait`}
                </span>
              )}
            </p>
          )}
        </div>
        {can("admin") && <ApprovalSetting name={detail.name} required={detail.approval_required} />}
      </div>

      <div className="card env-section">
        <h2>History</h2>
        {history.length === 0 ? (
          <p className="muted">No deployments yet.</p>
        ) : (
          <DeploymentHistory
            history={history}
            currentId={currentId}
            now={now}
            onRollBackTo={mayRollBack ? openRollback : undefined}
          />
        )}
        {moreError !== null && <ErrorMessage error={moreError} />}
        {more && (
          <button type="button" className="button secondary env-more" onClick={onMore} disabled={loadingMore}>
            {loadingMore ? "Loading…" : "Load older deployments"}
          </button>
        )}
      </div>

      <ConfirmDialog
        open={rollingBack !== null}
        title={`Roll back ${detail.name}?`}
        confirmLabel="Roll back"
        busyLabel="Rolling back…"
        danger
        busy={rollback.isPending}
        error={rollback.isError ? errorText(rollback.error) : null}
        onCancel={() => setRollingBack(null)}
        onConfirm={() =>
          rollback.mutate(rollingBack === "previous" || rollingBack === null ? null : rollingBack.id, {
            onSuccess: () => setRollingBack(null),
          })
        }
      >
        <p>
          {chosen ? (
            <>
              {detail.name} goes back to version <span className="mono">{chosen.version}</span> (deployment #
              {chosen.number}
              {chosen.build_number !== null && `, build ${chosen.job_name ?? ""} #${chosen.build_number}`}).
            </>
          ) : (
            <>{detail.name} goes back to the version it ran before the current one.</>
          )}{" "}
          {detail.current && (
            <>
              It runs <span className="mono">{detail.current.version}</span> now.
            </>
          )}
        </p>
        <p className="muted">The rollback is a deployment of its own, recorded in the history.</p>
      </ConfirmDialog>
    </section>
  );
}

function ApprovalSetting({ name, required }: { name: string; required: boolean }) {
  const update = useSetApprovalRequired(name);
  return (
    <div className="env-settings">
      <label className="checkbox">
        <input
          type="checkbox"
          checked={update.isPending ? update.variables : required}
          disabled={update.isPending}
          onChange={(event) => update.mutate(event.target.checked)}
        />
        Every deployment to {name} waits for a developer's approval
      </label>
      {update.isError && (
        <p className="error" role="alert">
          Could not change it: {errorText(update.error)}
        </p>
      )}
    </div>
  );
}

interface DeploymentHistoryProps {
  history: readonly Deployment[];
  currentId: string | undefined;
  now: number;
  /** Offered on the rows a rollback can go back to (developers); none: no such buttons. */
  onRollBackTo?: (deployment: Deployment) => void;
}

export function DeploymentHistory({ history, currentId, now, onRollBackTo }: DeploymentHistoryProps) {
  return (
    <div className="table-wrap">
      <table aria-label="Deployment history">
        <thead>
          <tr>
            <th scope="col">#</th>
            <th scope="col">Status</th>
            <th scope="col">Version</th>
            <th scope="col">Kind</th>
            <th scope="col">Build</th>
            <th scope="col" className="hide-narrow">
              Commit
            </th>
            <th scope="col" className="hide-narrow">
              Who
            </th>
            <th scope="col">When</th>
            <th scope="col">
              <span className="visually-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {history.map((deployment) => (
            <HistoryRow
              key={deployment.id}
              deployment={deployment}
              current={deployment.id === currentId}
              now={now}
              onRollBackTo={
                onRollBackTo && canRollBackTo(deployment, currentId, history) ? onRollBackTo : undefined
              }
            />
          ))}
        </tbody>
      </table>
    </div>
  );
}

interface HistoryRowProps {
  deployment: Deployment;
  current: boolean;
  now: number;
  onRollBackTo?: (deployment: Deployment) => void;
}

function HistoryRow({ deployment, current, now, onRollBackTo }: HistoryRowProps) {
  const [showLog, setShowLog] = useState(false);
  const when = deployment.finished_at ?? deployment.started_at ?? deployment.created_at;
  const note = deployment.waiting_reason ? asSentence(deployment.waiting_reason) : deployment.message;
  return (
    <>
      <tr data-deployment={deployment.number} data-status={deployment.status}>
        <td>#{deployment.number}</td>
        <td>
          <DeploymentStatusBadge status={deployment.status} />
          {current && <span className="env-chip"> current</span>}
        </td>
        <td className="mono">{deployment.version}</td>
        <td>
          {KIND_WORDS[deployment.kind] ?? deployment.kind}
          {deployment.target && <span className="muted small"> · kubernetes</span>}
        </td>
        <td>
          {deployment.build_id ? (
            <Link to={`/builds/${deployment.build_id}`}>
              {deployment.job_name ?? "build"} #{deployment.build_number}
            </Link>
          ) : (
            "–"
          )}
        </td>
        <td className="mono hide-narrow" title={deployment.commit_sha ?? undefined}>
          {shortSha(deployment.commit_sha)}
        </td>
        <td className="hide-narrow">
          {deployment.requested_by ?? "the server"}
          {deployment.approved_by && (
            <span className="muted small">
              {" "}
              · {deployment.status === "rejected" ? "rejected" : "approved"} by {deployment.approved_by}
            </span>
          )}
        </td>
        <td title={formatTime(when)}>{formatRelative(when, now)}</td>
        <td>
          <div className="deploy-row-actions">
            <DeploymentDecision deployment={deployment} />
            {/* A rollout has lines once it started; the server keeps none before. */}
            {deployment.target && deployment.status !== "awaiting_approval" && deployment.status !== "queued" && (
              <button
                type="button"
                className="button secondary"
                aria-expanded={showLog}
                onClick={() => setShowLog((open) => !open)}
                aria-label={`Rollout log (#${deployment.number})`}
              >
                Rollout log
              </button>
            )}
            {onRollBackTo && (
              <button
                type="button"
                className="button secondary"
                onClick={() => onRollBackTo(deployment)}
                aria-label={`Roll back to this (#${deployment.number})`}
              >
                Roll back to this
              </button>
            )}
          </div>
        </td>
      </tr>
      {showLog && (
        <tr className="deploy-note">
          <td colSpan={9}>
            <RolloutLog deploymentId={deployment.id} />
          </td>
        </tr>
      )}
      {note && (
        <tr className="deploy-note">
          <td colSpan={9} className={deployment.status === "failed" ? "error deploy-message" : "muted small deploy-message"}>
            {note}
          </td>
        </tr>
      )}
    </>
  );
}
