// The build's deployments: to which environment, how it went or why it waits, the version, and
// Approve / Reject on one that waits for approval. Nothing when the build deploys nothing.
import { Link } from "react-router";
import { ErrorMessage } from "../../components/Feedback";
import { formatRelative, formatTime } from "../../lib/format";
import { DeploymentDecision, DeploymentStatusBadge } from "../environments/DeploymentParts";
import { asSentence, KIND_WORDS, type Deployment } from "../environments/deployments";
import { useBuildDeployments } from "../environments/queries";

export function BuildDeployments({ buildId, now }: { buildId: string; now: number }) {
  const deployments = useBuildDeployments(buildId);
  if (deployments.isError) {
    return (
      <div className="card build-section">
        <h2>Deployments</h2>
        <ErrorMessage error={deployments.error} />
      </div>
    );
  }
  if (!deployments.data || deployments.data.length === 0) return null;
  return (
    <div className="card build-section build-deployments">
      <h2>Deployments</h2>
      <div className="table-wrap">
        <table aria-label="Deployments of this build">
          <thead>
            <tr>
              <th scope="col">Environment</th>
              <th scope="col">Status</th>
              <th scope="col">Version</th>
              <th scope="col" className="hide-narrow">
                Step
              </th>
              <th scope="col" className="hide-narrow">
                When
              </th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {deployments.data.map((deployment) => (
              <DeploymentRow key={deployment.id} deployment={deployment} now={now} />
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}

function DeploymentRow({ deployment, now }: { deployment: Deployment; now: number }) {
  const when = deployment.finished_at ?? deployment.started_at ?? deployment.created_at;
  const note = deployment.waiting_reason
    ? asSentence(deployment.waiting_reason)
    : deployment.message ?? (deployment.approved_by ? `Approved by ${deployment.approved_by}` : null);
  return (
    <>
      <tr data-environment={deployment.environment} data-status={deployment.status}>
        <td>
          <Link to={`/environments/${encodeURIComponent(deployment.environment)}`}>{deployment.environment}</Link>{" "}
          <span className="muted small">
            #{deployment.number}
            {deployment.kind !== "deploy" && ` · ${KIND_WORDS[deployment.kind] ?? deployment.kind}`}
          </span>
        </td>
        <td>
          <DeploymentStatusBadge status={deployment.status} />
        </td>
        <td className="mono">{deployment.version}</td>
        <td className="mono hide-narrow">{deployment.step ?? "–"}</td>
        <td className="hide-narrow" title={formatTime(when)}>
          {formatRelative(when, now)}
        </td>
        <td>
          <DeploymentDecision deployment={deployment} />
        </td>
      </tr>
      {note && (
        <tr className="deploy-note">
          <td
            colSpan={6}
            className={deployment.status === "failed" || deployment.status === "rejected" ? "error deploy-message" : "small muted deploy-message deploy-waiting"}
          >
            {note}
          </td>
        </tr>
      )}
    </>
  );
}
