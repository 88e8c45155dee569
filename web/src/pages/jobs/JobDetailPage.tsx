import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useEffect, useRef, useState, type ReactNode } from "react";
import { Link, useNavigate, useParams } from "react-router";
import { api, ApiError, errorText, unwrap, type Build, type Job } from "../../api/client";
import { useAuth } from "../../auth/AuthProvider";
import { ErrorMessage, Loading } from "../../components/Feedback";
import { StatusBadge } from "../../components/StatusBadge";
import { elapsedSeconds, formatDuration, formatRelative, formatTime, shortSha } from "../../lib/format";
import { Labels, shortRepository } from "./JobsPage";
import { DEFAULT_PIPELINE_PATH } from "./jobForm";
import { useJob, useJobBuilds } from "./queries";
import { TriggerDialog, type TriggerTarget } from "./TriggerDialog";
import "./jobs.css";

export function JobDetailPage() {
  const { jobId = "" } = useParams();
  const job = useJob(jobId);
  if (job.isPending) return <Loading what="Loading the job" />;
  if (job.error instanceof ApiError && (job.error.status === 404 || job.error.status === 422)) {
    return (
      <section>
        <h1>Job not found</h1>
        <p>
          No job has this id; it may have been deleted. <Link to="/jobs">See all jobs</Link>.
        </p>
      </section>
    );
  }
  if (job.error) return <ErrorMessage error={job.error} />;
  return <JobDetail job={job.data} />;
}

function JobDetail({ job }: { job: Job }) {
  const { can } = useAuth();
  const [triggering, setTriggering] = useState<TriggerTarget | null>(null);
  const [confirmDelete, setConfirmDelete] = useState(false);
  const envKeys = Object.keys(job.env).sort();
  const inRepository = job.pipeline === null && job.build_config === null;

  return (
    <section aria-labelledby="job-title" className="jobs-ui job-detail">
      <p className="small breadcrumb">
        <Link to="/jobs">Jobs</Link> <span aria-hidden="true">/</span>
      </p>
      <div className="page-head">
        <h1 id="job-title">{job.name}</h1>
        <span className="spacer" />
        <div className="row head-actions">
          {can("developer") && (
            <button type="button" onClick={() => setTriggering(job)}>
              <span aria-hidden="true">▶</span> Trigger
            </button>
          )}
          {can("developer") && (
            <Link className="button secondary" to={`/jobs/${job.id}/edit`}>
              Edit
            </Link>
          )}
          {can("admin") && (
            <button type="button" className="danger" onClick={() => setConfirmDelete(true)}>
              Delete
            </button>
          )}
        </div>
      </div>
      {job.description && <p className="job-description">{job.description}</p>}

      <div className="job-columns">
        <div className="card">
          <h2 className="card-title">Settings</h2>
          <dl className="settings">
            <Setting term="Repository">
              {job.scm_url ? (
                <span className="mono break" title={job.scm_url}>
                  {shortRepository(job.scm_url)}
                </span>
              ) : (
                <span className="muted">none: the pipeline is stored in the job</span>
              )}
            </Setting>
            <Setting term="Branch">
              {job.branch ? <span className="mono">{job.branch}</span> : <span className="muted">the repository's default</span>}
            </Setting>
            <Setting term="Pipeline">
              {job.pipeline !== null ? (
                "written in the job"
              ) : job.build_config !== null ? (
                "the job's build_config (one step)"
              ) : (
                <>
                  <span className="mono">{job.pipeline_path ?? DEFAULT_PIPELINE_PATH}</span> in the repository
                </>
              )}
            </Setting>
            <Setting term="Labels">
              <Labels labels={job.labels} />
            </Setting>
            <Setting term="Max retries">{job.max_retries}</Setting>
            <Setting term="Timeout">
              {job.timeout_seconds === null ? (
                <span className="muted">server default</span>
              ) : (
                `${formatDuration(job.timeout_seconds)} (${job.timeout_seconds} s)`
              )}
            </Setting>
            <Setting term="Priority">{job.priority}</Setting>
            <Setting term="Max concurrent builds">
              {job.max_concurrent_builds ?? <span className="muted">no limit</span>}
            </Setting>
            <Setting term="Cancel previous">
              {job.cancel_previous ? "yes: a new build cancels older queued builds of its branch" : "no"}
            </Setting>
            <Setting term="Secrets for forks">{job.secrets_for_forks ? "yes" : "no"}</Setting>
            <Setting term="Environment">
              {envKeys.length === 0 ? (
                <span className="muted">none</span>
              ) : (
                <ul className="labels" aria-label="Variable names">
                  {envKeys.map((key) => (
                    <li key={key} className="label-chip mono">
                      {key}
                    </li>
                  ))}
                </ul>
              )}
            </Setting>
            <Setting term="Updated">
              <time dateTime={job.updated_at} title={formatTime(job.updated_at)}>
                {formatRelative(job.updated_at)}
              </time>
            </Setting>
          </dl>
        </div>
        <div className="card pipeline-card">
          <h2 className="card-title">Pipeline</h2>
          {job.pipeline !== null ? (
            <pre className="pipeline-text" tabIndex={0} aria-label={`Pipeline of ${job.name}`}>
              {job.pipeline}
            </pre>
          ) : job.build_config !== null ? (
            <pre className="pipeline-text" tabIndex={0} aria-label={`Build config of ${job.name}`}>
              {JSON.stringify(job.build_config, null, 2)}
            </pre>
          ) : (
            <p className="muted">
              {inRepository && (
                <>
                  Each build reads <span className="mono">{job.pipeline_path ?? DEFAULT_PIPELINE_PATH}</span> from
                  the repository at the commit it builds.
                </>
              )}
            </p>
          )}
        </div>
      </div>

      <h2>Recent builds</h2>
      <RecentBuilds jobId={job.id} />

      <TriggerDialog job={triggering} onClose={() => setTriggering(null)} />
      {confirmDelete && <DeleteJobDialog job={job} onClose={() => setConfirmDelete(false)} />}
    </section>
  );
}

function Setting({ term, children }: { term: string; children: ReactNode }) {
  return (
    <div className="setting">
      <dt>{term}</dt>
      <dd>{children}</dd>
    </div>
  );
}

function RecentBuilds({ jobId }: { jobId: string }) {
  const builds = useJobBuilds(jobId);
  useTicking(builds.data?.items.some((build) => build.status === "running") ?? false);
  if (builds.isPending) return <Loading what="Loading builds" />;
  if (builds.error) return <ErrorMessage error={builds.error} />;
  const items = builds.data.items;
  if (items.length === 0) {
    return <p className="muted card">No builds yet. Trigger the job to run its pipeline.</p>;
  }
  return (
    <div className="table-wrap card flush">
      <table>
        <caption className="jobs-vh">Recent builds of this job, newest first</caption>
        <thead>
          <tr>
            <th scope="col">Build</th>
            <th scope="col">Status</th>
            <th scope="col" className="hide-narrow">
              Branch
            </th>
            <th scope="col" className="hide-narrow">
              Commit
            </th>
            <th scope="col" className="hide-narrow">
              Trigger
            </th>
            <th scope="col">Queued</th>
            <th scope="col">Duration</th>
          </tr>
        </thead>
        <tbody>
          {items.map((build) => (
            <BuildRow key={build.id} build={build} />
          ))}
        </tbody>
      </table>
      {builds.data.next_cursor && (
        <p className="small table-foot">
          <Link to={`/builds?job=${jobId}`}>All builds of this job</Link>
        </p>
      )}
    </div>
  );
}

/** Re-renders every second while `active`, so running durations count up without a request. */
function useTicking(active: boolean) {
  const [, setTick] = useState(0);
  useEffect(() => {
    if (!active) return;
    const timer = setInterval(() => setTick((n) => n + 1), 1000);
    return () => clearInterval(timer);
  }, [active]);
}

function BuildRow({ build }: { build: Build }) {
  const duration =
    build.duration_seconds ?? (build.status === "running" ? elapsedSeconds(build.started_at) : null);
  return (
    <tr>
      <th scope="row">
        <Link to={`/builds/${build.id}`}>#{build.number}</Link>
      </th>
      <td>
        <StatusBadge status={build.status} />
      </td>
      <td className="hide-narrow mono">{build.branch ?? "–"}</td>
      <td className="hide-narrow mono">{shortSha(build.commit_sha)}</td>
      <td className="hide-narrow">{build.trigger}</td>
      <td>
        <time dateTime={build.queued_at} title={formatTime(build.queued_at)}>
          {formatRelative(build.queued_at)}
        </time>
      </td>
      <td>{formatDuration(duration)}</td>
    </tr>
  );
}

function DeleteJobDialog({ job, onClose }: { job: Job; onClose: () => void }) {
  const dialog = useRef<HTMLDialogElement>(null);
  const cancel = useRef<HTMLButtonElement>(null);
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const remove = useMutation({
    mutationFn: async () =>
      unwrap(await api.DELETE("/api/v1/jobs/{job_id}", { params: { path: { job_id: job.id } } })),
    onSuccess: () => {
      queryClient.removeQueries({ queryKey: ["jobs", job.id] });
      void queryClient.invalidateQueries({ queryKey: ["jobs"] });
      void queryClient.invalidateQueries({ queryKey: ["stats"] });
      void queryClient.invalidateQueries({ queryKey: ["builds"] });
      navigate("/jobs");
    },
  });
  useEffect(() => {
    dialog.current?.showModal?.();
    // The safe choice has the focus: Enter does not delete.
    cancel.current?.focus();
  }, []);
  return (
    <dialog ref={dialog} aria-labelledby="delete-title" aria-describedby="delete-text" onClose={onClose}>
      <h2 id="delete-title" className="trigger-title">
        Delete <span className="mono">{job.name}</span>?
      </h2>
      <p id="delete-text">
        The job, all its builds, their logs and artifacts are deleted. This cannot be undone.
      </p>
      {remove.error && (
        <p className="error" role="alert">
          {errorText(remove.error)}
        </p>
      )}
      <div className="row dialog-actions">
        <span className="spacer" />
        <button ref={cancel} type="button" className="secondary" onClick={onClose}>
          Cancel
        </button>
        <button type="button" className="danger" disabled={remove.isPending} onClick={() => remove.mutate()}>
          {remove.isPending ? "Deleting…" : "Delete job"}
        </button>
      </div>
    </dialog>
  );
}
