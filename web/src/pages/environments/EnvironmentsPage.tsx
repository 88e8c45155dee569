// Environments: what runs where (version, from which build and commit, since when, who deployed
// and approved it), whether deployments there need an approval, and what runs or waits now.
import { Link } from "react-router";
import { ErrorMessage, Loading } from "../../components/Feedback";
import { formatRelative, formatTime, shortSha } from "../../lib/format";
import { useNow } from "../../lib/useNow";
import { DeploymentStatusBadge } from "./DeploymentParts";
import { type CurrentDeployment, type Environment } from "./deployments";
import { useEnvironments } from "./queries";
import "./environments.css";

export function EnvironmentsPage() {
  const environments = useEnvironments();
  const now = useNow(30_000);
  return (
    <>
      <div className="page-head">
        <h1>Environments</h1>
      </div>
      {environments.isPending ? (
        <Loading what="Loading environments" />
      ) : environments.isError ? (
        <ErrorMessage error={environments.error} />
      ) : environments.data.length === 0 ? (
        <div className="card">
          <p className="env-nothing">
            No environments yet. A pipeline step with <code>deploy: {"{environment: staging}"}</code> makes one when it
            first deploys.
          </p>
        </div>
      ) : (
        <ul className="env-grid" aria-label="Environments">
          {environments.data.map((environment) => (
            <EnvironmentCard key={environment.name} environment={environment} now={now} />
          ))}
        </ul>
      )}
    </>
  );
}

export function EnvironmentCard({ environment, now }: { environment: Environment; now: number }) {
  const { current, running, waiting } = environment;
  return (
    <li className="card env-card" aria-label={environment.name} data-environment={environment.name}>
      <div className="env-card-head">
        <h2>
          <Link to={`/environments/${encodeURIComponent(environment.name)}`}>{environment.name}</Link>
        </h2>
        {environment.approval_required && <span className="env-chip">approval required</span>}
      </div>
      {current ? (
        <CurrentFacts current={current} now={now} />
      ) : (
        <p className="muted env-nothing">Nothing deployed yet.</p>
      )}
      {(running || waiting > 0) && (
        <p className="env-now">
          {running && (
            <>
              <DeploymentStatusBadge status={running.status} />
              <span>
                #{running.number} <span className="mono">{running.version}</span>
              </span>
            </>
          )}
          {waiting > 0 && <span className="muted">{waiting === 1 ? "1 waiting" : `${waiting} waiting`}</span>}
        </p>
      )}
    </li>
  );
}

/** What runs in an environment: its version first, then where it came from. */
export function CurrentFacts({ current, now }: { current: CurrentDeployment; now: number }) {
  return (
    <div>
      <div className="env-version" title="The version running there">
        {current.version}
      </div>
      <dl className="env-facts">
        <dt>Since</dt>
        <dd title={formatTime(current.since)}>
          {formatRelative(current.since, now)}
          {current.kind !== "deploy" && <span className="muted"> (rollback #{current.number})</span>}
        </dd>
        <dt>Build</dt>
        <dd>
          {current.build_id ? (
            <Link to={`/builds/${current.build_id}`}>
              {current.job_name ?? "build"} #{current.build_number}
            </Link>
          ) : (
            "–"
          )}
        </dd>
        <dt>Commit</dt>
        <dd className="mono" title={current.commit_sha ?? undefined}>
          {shortSha(current.commit_sha)}
        </dd>
        <dt>Deployed by</dt>
        <dd>
          {current.deployed_by ?? "the server"}
          {current.approved_by && <span className="muted"> · approved by {current.approved_by}</span>}
        </dd>
      </dl>
    </div>
  );
}
