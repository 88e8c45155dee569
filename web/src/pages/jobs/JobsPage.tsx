import { useState } from "react";
import { Link } from "react-router";
import { errorText, type Job } from "../../api/client";
import { useAuth } from "../../auth/AuthProvider";
import { ErrorMessage, Loading } from "../../components/Feedback";
import { StatusBadge } from "../../components/StatusBadge";
import { useJobs, useStats } from "../../lib/queries";
import { TriggerDialog, type TriggerTarget } from "./TriggerDialog";
import "./jobs.css";

/** "https://git.example.com/team/app.git" -> "git.example.com/team/app". */
export function shortRepository(url: string): string {
  return url.replace(/^[a-z+]+:\/\//i, "").replace(/^[^@/]+@/, "").replace(/\.git$/, "");
}

/** The window of the stats the table reads each job's last build from (the dashboard's default). */
const STATS_DAYS = 7;

export function JobsPage() {
  const { can } = useAuth();
  const jobs = useJobs();
  // Every job's newest build, in one request for the whole table.
  const stats = useStats(STATS_DAYS);
  const [triggering, setTriggering] = useState<TriggerTarget | null>(null);
  const lastBuild = new Map((stats.data?.jobs ?? []).map((s) => [s.job_id, s]));
  const developer = can("developer");

  return (
    <section aria-labelledby="jobs-title" className="jobs-ui">
      <div className="page-head">
        <h1 id="jobs-title">Jobs</h1>
        <span className="spacer" />
        {developer && (
          <Link className="button" to="/jobs/new">
            New job
          </Link>
        )}
      </div>
      {jobs.isPending && <Loading what="Loading jobs" />}
      <ErrorMessage error={jobs.error} />
      {jobs.data && jobs.data.length === 0 && <EmptyJobs developer={developer} />}
      {jobs.data && jobs.data.length > 0 && (
        <div className="table-wrap card flush">
          <table className="jobs-table">
            <caption className="visually-hidden">Jobs, by name</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col" className="hide-narrow">
                  Repository
                </th>
                <th scope="col">Branch</th>
                <th scope="col" className="hide-narrow">
                  Labels
                </th>
                <th scope="col">Last build</th>
                {developer && (
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                )}
              </tr>
            </thead>
            <tbody>
              {jobs.data.map((job) => {
                const last = lastBuild.get(job.id);
                return (
                  <tr key={job.id}>
                    <th scope="row">
                      <Link to={`/jobs/${job.id}`}>{job.name}</Link>
                    </th>
                    <td className="hide-narrow">
                      <RepositoryCell job={job} />
                    </td>
                    <td>{job.branch ? <span className="mono">{job.branch}</span> : <span className="muted">default</span>}</td>
                    <td className="hide-narrow">
                      <Labels labels={job.labels} />
                    </td>
                    <td>
                      {last?.last_build_id && last.last_status ? (
                        <Link
                          to={`/builds/${last.last_build_id}`}
                          className="badge-link"
                          aria-label={`Last build of ${job.name}: ${last.last_status}`}
                        >
                          <StatusBadge status={last.last_status} />
                        </Link>
                      ) : stats.isPending ? (
                        <span className="muted">…</span>
                      ) : (
                        <span className="muted">{stats.error ? "unknown" : "never built"}</span>
                      )}
                    </td>
                    {developer && (
                      <td className="actions">
                        <button
                          type="button"
                          className="secondary"
                          aria-label={`Trigger ${job.name}`}
                          onClick={() => setTriggering(job)}
                        >
                          <span aria-hidden="true">▶</span>
                          <span className="hide-narrow"> Trigger</span>
                        </button>
                      </td>
                    )}
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      {stats.error && jobs.data && jobs.data.length > 0 && (
        <p className="muted small">The last builds could not be loaded: {errorText(stats.error)}</p>
      )}
      <TriggerDialog job={triggering} onClose={() => setTriggering(null)} />
    </section>
  );
}

function RepositoryCell({ job }: { job: Job }) {
  if (!job.scm_url) return <span className="muted">none (pipeline in the job)</span>;
  return (
    <span className="mono" title={job.scm_url}>
      {shortRepository(job.scm_url)}
    </span>
  );
}

export function Labels({ labels }: { labels: readonly string[] }) {
  if (labels.length === 0) return <span className="muted">any worker</span>;
  return (
    <ul className="labels" aria-label="Labels">
      {labels.map((label) => (
        <li key={label} className="label-chip">
          {label}
        </li>
      ))}
    </ul>
  );
}

function EmptyJobs({ developer }: { developer: boolean }) {
  return (
    <div className="card empty-state">
      <h2>No jobs yet</h2>
      <p>
        A job is a pipeline (the steps to run) and, optionally, the repository its code comes from.
        Each time it is triggered it makes a build that a worker runs.
      </p>
      {developer ? (
        <>
          <p>
            <Link className="button" to="/jobs/new">
              Create the first job
            </Link>
          </p>
          <p className="muted small">
            Or from a terminal: <code>solvyd jobs create NAME --pipeline .solvyd.yml</code>
          </p>
        </>
      ) : (
        <p className="muted">
          Creating jobs needs the developer role: ask an admin to create one, or to give you that role.
        </p>
      )}
    </div>
  );
}
