// Pieces the Environments pages and the build page share: a deployment's status badge, and
// the Approve / Reject buttons of one that waits for approval (developers and admins).
import { useState } from "react";
import { errorText } from "../../api/client";
import { ErrorMessage, Loading } from "../../components/Feedback";
import { useAuth } from "../../auth/AuthProvider";
import { ConfirmDialog } from "../../components/Dialog";
import { STATUS_WORDS, type Deployment, type DeploymentStatus } from "./deployments";
import { useApproveDeployment, useDeploymentLog, useRejectDeployment } from "./queries";
import "./environments.css";

const SYMBOL: Record<DeploymentStatus, string> = {
  awaiting_approval: "◷",
  queued: "◷",
  running: "◐",
  succeeded: "✓",
  failed: "✕",
  cancelled: "⊘",
  rejected: "⊘",
};

/** A colour and a word, like the builds' badges. */
export function DeploymentStatusBadge({ status }: { status: DeploymentStatus }) {
  return (
    <span className={`badge deploy-badge-${status}`} data-status={status}>
      <span aria-hidden="true">{SYMBOL[status] ?? "•"}</span> {STATUS_WORDS[status] ?? status}
    </span>
  );
}

/** Approve or Reject a deployment that waits for approval; nothing for another or a viewer. */
export function DeploymentDecision({ deployment }: { deployment: Deployment }) {
  const { can } = useAuth();
  const approve = useApproveDeployment();
  const reject = useRejectDeployment();
  const [rejecting, setRejecting] = useState(false);
  const [reason, setReason] = useState("");
  if (deployment.status !== "awaiting_approval" || !can("developer")) return null;
  const what = `deployment #${deployment.number} to ${deployment.environment}`;
  return (
    <div className="deploy-decision">
      <button
        type="button"
        onClick={() => approve.mutate(deployment.id)}
        disabled={approve.isPending}
        aria-label={`Approve ${what}`}
      >
        {approve.isPending ? "Approving…" : "Approve"}
      </button>
      <button
        type="button"
        className="button secondary"
        onClick={() => {
          reject.reset();
          setReason("");
          setRejecting(true);
        }}
        aria-label={`Reject ${what}`}
      >
        Reject
      </button>
      {approve.isError && (
        <p className="error deploy-decision-error" role="alert">
          Approval failed: {errorText(approve.error)}
        </p>
      )}
      <ConfirmDialog
        open={rejecting}
        title={`Reject ${what}?`}
        confirmLabel="Reject"
        busyLabel="Rejecting…"
        danger
        busy={reject.isPending}
        error={reject.isError ? errorText(reject.error) : null}
        onCancel={() => setRejecting(false)}
        onConfirm={() =>
          reject.mutate({ deploymentId: deployment.id, reason }, { onSuccess: () => setRejecting(false) })
        }
      >
        <p>
          Version <span className="mono">{deployment.version}</span> will not be deployed, and the step that asked for
          it fails.
        </p>
        <label className="deploy-reason">
          Reason (optional)
          <input value={reason} maxLength={1000} onChange={(event) => setReason(event.target.value)} />
        </label>
      </ConfirmDialog>
    </div>
  );
}

/**
 * The progress lines of a rollout the server performed (a Kubernetes target). A rollback a
 * user asked for belongs to no build, so its lines are nowhere else to read.
 */
export function RolloutLog({ deploymentId }: { deploymentId: string }) {
  const detail = useDeploymentLog(deploymentId, true);
  if (detail.isPending) return <Loading what="Loading the rollout's lines" />;
  if (detail.isError) return <ErrorMessage error={detail.error} />;
  if (detail.data.log.length === 0) return <p className="muted small">No rollout lines (yet).</p>;
  return (
    <pre className="deploy-log" aria-label={`Rollout of deployment #${detail.data.number}`}>
      {detail.data.log.map((line) => `${new Date(line.ts).toLocaleTimeString()}  ${line.text}`).join("\n")}
    </pre>
  );
}
