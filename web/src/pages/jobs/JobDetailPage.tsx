import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState, type KeyboardEvent, type ReactNode } from "react";
import { Link, useNavigate, useParams, useSearchParams } from "react-router";
import { api, errorText, unwrap, type Job } from "../../api/client";
import { useAuth } from "../../auth/AuthProvider";
import { BuildTable } from "../../components/BuildTable";
import { ConfirmDialog } from "../../components/Dialog";
import { ErrorMessage, Loading } from "../../components/Feedback";
import { formatDuration, formatRelative, formatTime } from "../../lib/format";
import { useBuilds } from "../../lib/queries";
import { useNow } from "../../lib/useNow";
import { Labels, shortRepository } from "./JobsPage";
import { DeliveriesPanel } from "./DeliveriesPanel";
import { DEFAULT_PIPELINE_PATH } from "./jobForm";
import { JobNotificationsCard } from "./JobNotificationsCard";
import { JobTriggersCard } from "./JobTriggersCard";
import { TriggerDialog, type TriggerTarget } from "./TriggerDialog";
import { WithJob } from "./WithJob";
import "./jobs.css";

const RECENT_BUILDS = 15;

export function JobDetailPage() {
  const { jobId = "" } = useParams();
  return <WithJob jobId={jobId}>{(job) => <JobDetail job={job} />}</WithJob>;
}

function JobDetail({ job }: { job: Job }) {
  const { can } = useAuth();
  const [triggering, setTriggering] = useState<TriggerTarget | null>(null);
  const [confirmDelete, setConfirmDelete] = useState(false);
  const envKeys = Object.keys(job.env).sort();
  const inRepository = job.pipeline === null && job.build_config === null;
  // The Deliveries tab is for admins only (so is its API); the tab is in the URL (?tab=).
  const [params, setParams] = useSearchParams();
  const tab: JobTab = can("admin") && params.get("tab") === "deliveries" ? "deliveries" : "overview";
  const showTab = (next: JobTab) =>
    setParams(next === "overview" ? {} : { tab: next }, { replace: true, preventScrollReset: true });
  const now = useNow(60_000);

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

      {can("admin") && <JobTabs tab={tab} onChange={showTab} />}
      {tab === "deliveries" ? (
        <div role="tabpanel" id="job-tabpanel-deliveries" aria-labelledby="job-tab-deliveries">
          <DeliveriesPanel jobId={job.id} now={now} />
        </div>
      ) : (
        <div
          role={can("admin") ? "tabpanel" : undefined}
          id="job-tabpanel-overview"
          aria-labelledby={can("admin") ? "job-tab-overview" : undefined}
        >
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
                  {job.cancel_previous ? "yes: a new build cancels older queued builds of its kind and branch" : "no"}
                </Setting>
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

          <JobTriggersCard job={job} origin={window.location.origin} now={now} />

          <JobNotificationsCard job={job} canTest={can("developer")} />

          <h2>Recent builds</h2>
          <RecentBuilds jobId={job.id} />
        </div>
      )}

      <TriggerDialog job={triggering} onClose={() => setTriggering(null)} />
      {confirmDelete && <DeleteJobDialog job={job} onClose={() => setConfirmDelete(false)} />}
    </section>
  );
}

type JobTab = "overview" | "deliveries";

const TABS: { id: JobTab; label: string }[] = [
  { id: "overview", label: "Overview" },
  { id: "deliveries", label: "Deliveries" },
];

/** Overview | Deliveries, with the arrow keys moving between them as a tab list does. */
export function JobTabs({ tab, onChange }: { tab: JobTab; onChange: (tab: JobTab) => void }) {
  const move = (event: KeyboardEvent<HTMLButtonElement>) => {
    if (event.key !== "ArrowRight" && event.key !== "ArrowLeft") return;
    const at = TABS.findIndex((t) => t.id === tab);
    const next = TABS[(at + (event.key === "ArrowRight" ? 1 : TABS.length - 1)) % TABS.length]!;
    onChange(next.id);
    document.getElementById(`job-tab-${next.id}`)?.focus();
  };
  return (
    <div role="tablist" aria-label="Job" className="job-tabs">
      {TABS.map((t) => (
        <button
          key={t.id}
          id={`job-tab-${t.id}`}
          type="button"
          role="tab"
          className="job-tab"
          aria-selected={tab === t.id}
          aria-controls={`job-tabpanel-${t.id}`}
          tabIndex={tab === t.id ? 0 : -1}
          onClick={() => onChange(t.id)}
          onKeyDown={move}
        >
          {t.label}
        </button>
      ))}
    </div>
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
  const builds = useBuilds({ job_id: jobId, limit: RECENT_BUILDS });
  // Running durations count up each second; "queued 5m ago" needs no more than a refresh now and then.
  const now = useNow(builds.data?.items.some((build) => build.status === "running") ? 1000 : 30_000);
  if (builds.isPending) return <Loading what="Loading builds" />;
  if (builds.error) return <ErrorMessage error={builds.error} />;
  const items = builds.data.items;
  if (items.length === 0) {
    return <p className="muted card">No builds yet. Trigger the job to run its pipeline.</p>;
  }
  return (
    <div className="card flush">
      <BuildTable
        builds={items}
        columns={["number", "status", "branch", "commit", "trigger", "queued", "duration"]}
        hideNarrow={["branch", "commit", "trigger"]}
        caption="Recent builds of this job, newest first"
        now={now}
      />
      {builds.data.next_cursor && (
        <p className="small table-foot">
          <Link to={`/builds?job=${jobId}`}>All builds of this job</Link>
        </p>
      )}
    </div>
  );
}

function DeleteJobDialog({ job, onClose }: { job: Job; onClose: () => void }) {
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
  return (
    <ConfirmDialog
      open
      title={
        <>
          Delete <span className="mono">{job.name}</span>?
        </>
      }
      confirmLabel="Delete job"
      busyLabel="Deleting…"
      danger
      busy={remove.isPending}
      error={remove.error ? errorText(remove.error) : null}
      onConfirm={() => remove.mutate()}
      onCancel={onClose}
    >
      <p>The job, all its builds, their logs and artifacts are deleted. This cannot be undone.</p>
    </ConfirmDialog>
  );
}
