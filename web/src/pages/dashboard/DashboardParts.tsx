// The dashboard's presentational parts: everything here renders from props, nothing fetches.
import type { ReactNode } from "react";
import { Link } from "react-router";
import type { Build } from "../../api/client";
import { StatusBadge } from "../../components/StatusBadge";
import { workerName } from "../../lib/builds";
import { elapsedSeconds, formatDuration, formatElapsed, formatTime } from "../../lib/format";
import {
  WINDOWS,
  formatDay,
  formatPercent,
  type DayStats,
  type JobMetric,
  type JobStats,
  type Stats,
  type Window,
} from "./dashboardData";

export function WindowToggle({ days, onChange }: { days: Window; onChange: (days: Window) => void }) {
  return (
    <div className="dash-toggle" role="group" aria-label="Time window of the numbers">
      {WINDOWS.map((option) => (
        <button
          key={option}
          type="button"
          className={option === days ? "" : "secondary"}
          aria-pressed={option === days}
          onClick={() => onChange(option)}
        >
          {option} days
        </button>
      ))}
    </div>
  );
}

export function MetricToggle({ metric, onChange }: { metric: JobMetric; onChange: (m: JobMetric) => void }) {
  const options: [JobMetric, string][] = [
    ["success_rate", "Success rate"],
    ["median_duration", "Median duration"],
  ];
  return (
    <div className="dash-toggle small" role="group" aria-label="What the per-job chart shows">
      {options.map(([value, label]) => (
        <button
          key={value}
          type="button"
          className={value === metric ? "" : "secondary"}
          aria-pressed={value === metric}
          onClick={() => onChange(value)}
        >
          {label}
        </button>
      ))}
    </div>
  );
}

export function StatCards({ stats }: { stats: Stats }) {
  return (
    <div className="dash-stats">
      <StatCard id="stat-running" title="Running">
        <p className="stat">{stats.builds_running}</p>
        <p className="muted small">builds now</p>
      </StatCard>
      <StatCard id="stat-queued" title="Queued">
        <p className="stat">{stats.builds_queued}</p>
        <p className="muted small">builds waiting</p>
      </StatCard>
      <StatCard id="stat-workers" title="Workers online">
        <p className="stat">{stats.workers_online}</p>
        <p className="muted small">
          {stats.workers_busy} busy · {stats.workers_draining} draining · {stats.workers_offline} offline
        </p>
      </StatCard>
      <StatCard id="stat-queue-time" title="Queue time">
        <p className="stat">
          {formatDuration(stats.queue_seconds_p50)} <span className="dash-stat-unit">p50</span>
        </p>
        <p className="muted small">
          p95 {formatDuration(stats.queue_seconds_p95)} · last {stats.days} days
        </p>
      </StatCard>
    </div>
  );
}

function StatCard({ id, title, children }: { id: string; title: string; children: ReactNode }) {
  return (
    <section className="card" aria-labelledby={id}>
      <h2 id={id} className="dash-stat-title">
        {title}
      </h2>
      {children}
    </section>
  );
}

interface BuildListProps {
  kind: "running" | "queued";
  builds: Build[];
  workerNames: ReadonlyMap<string, string>;
  now: number;
  /** More builds than shown: a link to all of them. */
  more?: boolean;
}

/** "Running now" or "Queued": one line per build with a ticking time. */
export function LiveBuildList({ kind, builds, workerNames, now, more = false }: BuildListProps) {
  if (builds.length === 0) {
    return <p className="muted">{kind === "running" ? "Nothing is running." : "Nothing is waiting."}</p>;
  }
  return (
    <>
      <ul className="dash-live">
        {builds.map((build) => {
          const since = kind === "running" ? (build.started_at ?? build.queued_at) : build.queued_at;
          const seconds = elapsedSeconds(since, new Date(now).toISOString());
          return (
            <li key={build.id}>
              <div className="dash-live-main">
                <Link to={`/builds/${build.id}`}>
                  <strong>{build.job_name ?? "Build"}</strong> #{build.number}
                </Link>
                <span className="dash-live-time" title={`${kind === "running" ? "Started" : "Queued"} ${formatTime(since)}`}>
                  <span className="visually-hidden">{kind === "running" ? "running for " : "waiting for "}</span>
                  {formatElapsed(seconds)}
                </span>
              </div>
              <div className="muted small dash-live-meta">
                {build.branch && (
                  <span>
                    <span className="visually-hidden">branch </span>
                    <span className="mono">{build.branch}</span>
                  </span>
                )}
                {kind === "running" && <span>on {workerName(build.worker_id, workerNames)}</span>}
                {kind === "queued" && (
                  <span>{build.waiting_reason ?? "waiting for a free worker"}</span>
                )}
              </div>
            </li>
          );
        })}
      </ul>
      {more && (
        <p className="small">
          <Link to={`/builds?status=${kind}`}>All {kind} builds</Link>
        </p>
      )}
    </>
  );
}

export function JobStatsTable({ jobs, days }: { jobs: JobStats[]; days: number }) {
  if (jobs.length === 0) {
    return (
      <p className="muted">
        No jobs yet. <Link to="/jobs/new">Create one</Link>.
      </p>
    );
  }
  return (
    <div className="table-wrap">
      <table>
        <caption className="visually-hidden">Per job, over the last {days} days</caption>
        <thead>
          <tr>
            <th scope="col">Job</th>
            <th scope="col" className="dash-num">
              Builds
            </th>
            <th scope="col" className="dash-num">
              Success rate
            </th>
            <th scope="col" className="dash-num hide-narrow">
              Succeeded / failed
            </th>
            <th scope="col" className="dash-num">
              Median duration
            </th>
            <th scope="col">Last build</th>
          </tr>
        </thead>
        <tbody>
          {jobs.map((job) => (
            <tr key={job.job_id}>
              <th scope="row" className="dash-rowhead">
                <Link to={`/jobs/${job.job_id}`}>{job.job_name}</Link>
              </th>
              <td className="dash-num">{job.builds}</td>
              <td className="dash-num">{formatPercent(job.success_rate)}</td>
              <td className="dash-num hide-narrow">
                {job.succeeded} / {job.failed}
              </td>
              <td className="dash-num">{formatDuration(job.median_duration_seconds)}</td>
              <td>
                {job.last_status && job.last_build_id ? (
                  <Link to={`/builds/${job.last_build_id}`} className="dash-badge-link">
                    <StatusBadge status={job.last_status} />
                  </Link>
                ) : (
                  <span className="muted">never built</span>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** The builds-per-day chart's numbers as a table (its text alternative). */
export function DailyTable({ daily }: { daily: DayStats[] }) {
  return (
    <div className="table-wrap">
      <table>
        <caption className="visually-hidden">Builds per day</caption>
        <thead>
          <tr>
            <th scope="col">Day (UTC)</th>
            <th scope="col" className="dash-num">
              Succeeded
            </th>
            <th scope="col" className="dash-num">
              Failed
            </th>
            <th scope="col" className="dash-num">
              Other
            </th>
          </tr>
        </thead>
        <tbody>
          {[...daily].reverse().map((day) => (
            <tr key={day.date}>
              <th scope="row" className="dash-rowhead">
                {formatDay(day.date)}
              </th>
              <td className="dash-num">{day.success}</td>
              <td className="dash-num">{day.failure}</td>
              <td className="dash-num">{day.other}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** No builds at all yet: what to do first. */
export function FirstRun({ canTrigger, workersOnline }: { canTrigger: boolean; workersOnline: number }) {
  return (
    <section className="card dash-first-run" aria-labelledby="first-run-title">
      <h2 id="first-run-title">No builds yet</h2>
      {canTrigger ? (
        <ol>
          <li>
            Open the <Link to="/jobs">Jobs page</Link>.
          </li>
          <li>
            Pick the demo job <strong>hello</strong> (or <Link to="/jobs/new">create a job</Link>) and press{" "}
            <strong>Trigger</strong>.
          </li>
          <li>Its build shows up here while it runs, then in the charts.</li>
        </ol>
      ) : (
        <p>
          Builds appear here once someone triggers a job, for instance the demo job <strong>hello</strong> on the{" "}
          <Link to="/jobs">Jobs page</Link>. Your role can watch builds; a developer or admin can trigger them.
        </p>
      )}
      {workersOnline === 0 && (
        <p className="muted">
          No worker is online, so builds would wait in the queue: see <Link to="/workers">Workers</Link> for how
          to start an agent.
        </p>
      )}
    </section>
  );
}
