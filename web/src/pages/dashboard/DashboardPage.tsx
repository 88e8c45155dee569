// The dashboard: what runs and waits now, the newest builds, and how the jobs fared over 7 or
// 30 days. Every list is live: the events stream marks these queries stale (lib/events.ts).
import { useMemo, useState } from "react";
import { Link, useSearchParams } from "react-router";
import type { Build } from "../../api/client";
import { useAuth } from "../../auth/AuthProvider";
import { BuildTable } from "../../components/BuildTable";
import { ErrorMessage, Loading } from "../../components/Feedback";
import { useBuilds, useStats, useWorkerNames } from "../../lib/queries";
import { useNow } from "../../lib/useNow";
import { DailyBuildsChart, JobsChart } from "./DashboardCharts";
import { parseWindow, type JobMetric, type Window } from "./dashboardData";
import {
  DailyTable,
  FirstRun,
  JobStatsTable,
  LiveBuildList,
  MetricToggle,
  StatCards,
  WindowToggle,
} from "./DashboardParts";
import "./dashboard.css";

const LIVE_LIMIT = 50;
const RECENT_LIMIT = 15;

function byTime(key: "queued_at" | "started_at") {
  return (a: Build, b: Build) => Date.parse(a[key] ?? a.queued_at) - Date.parse(b[key] ?? b.queued_at);
}

export function DashboardPage() {
  const { can } = useAuth();
  const [params, setParams] = useSearchParams();
  const days = parseWindow(params.get("days"));
  const [metric, setMetric] = useState<JobMetric>("success_rate");

  const stats = useStats(days);
  const running = useBuilds({ status: "running", limit: LIVE_LIMIT });
  const queued = useBuilds({ status: "queued", limit: LIVE_LIMIT });
  const recent = useBuilds({ limit: RECENT_LIMIT });
  const workerNames = useWorkerNames();

  const runningBuilds = useMemo(
    () => [...(running.data?.items ?? [])].sort(byTime("started_at")),
    [running.data],
  );
  const queuedBuilds = useMemo(() => [...(queued.data?.items ?? [])].sort(byTime("queued_at")), [queued.data]);
  const now = useNow(1000);

  const setDays = (next: Window) => {
    const updated = new URLSearchParams(params);
    if (next === 7) updated.delete("days");
    else updated.set("days", String(next));
    setParams(updated, { replace: true });
  };

  const noBuilds = recent.isSuccess && recent.data.items.length === 0;

  return (
    <>
      <div className="page-head">
        <h1>Dashboard</h1>
        <span className="spacer" />
        <WindowToggle days={days} onChange={setDays} />
      </div>

      {stats.isPending ? (
        <Loading what="Loading numbers" />
      ) : stats.isError ? (
        <ErrorMessage error={stats.error} />
      ) : (
        <StatCards stats={stats.data} />
      )}

      {noBuilds ? (
        <FirstRun canTrigger={can("developer")} workersOnline={stats.data?.workers_online ?? 1} />
      ) : (
        <>
          <div className="dash-columns">
            <section className="card" aria-labelledby="running-title">
              <h2 id="running-title">
                Running now{running.isSuccess && <span className="muted"> ({runningBuilds.length})</span>}
              </h2>
              {running.isPending ? (
                <Loading />
              ) : running.isError ? (
                <ErrorMessage error={running.error} />
              ) : (
                <LiveBuildList
                  kind="running"
                  builds={runningBuilds}
                  workerNames={workerNames}
                  now={now}
                  more={running.data.next_cursor !== null}
                />
              )}
            </section>
            <section className="card" aria-labelledby="queued-title">
              <h2 id="queued-title">
                Queued{queued.isSuccess && <span className="muted"> ({queuedBuilds.length})</span>}
              </h2>
              {queued.isPending ? (
                <Loading />
              ) : queued.isError ? (
                <ErrorMessage error={queued.error} />
              ) : (
                <LiveBuildList
                  kind="queued"
                  builds={queuedBuilds}
                  workerNames={workerNames}
                  now={now}
                  more={queued.data.next_cursor !== null}
                />
              )}
            </section>
          </div>

          <section aria-labelledby="recent-title">
            <div className="dash-section-head">
              <h2 id="recent-title">Recent builds</h2>
              <Link to="/builds" className="small">
                All builds
              </Link>
            </div>
            {recent.isPending ? (
              <Loading />
            ) : recent.isError ? (
              <ErrorMessage error={recent.error} />
            ) : (
              <BuildTable
                builds={recent.data.items}
                columns={["status", "build", "branch", "worker", "duration", "queued"]}
                hideNarrow={["branch", "worker"]}
                caption="The newest builds"
                workerNames={workerNames}
                now={now}
              />
            )}
          </section>

          {stats.isSuccess && (
            <>
              <div className="dash-columns">
                <section className="card" aria-labelledby="daily-title">
                  <h2 id="daily-title">Builds per day</h2>
                  <DailyBuildsChart daily={stats.data.daily} days={stats.data.days} />
                  <details className="dash-details">
                    <summary>Show as a table</summary>
                    <DailyTable daily={stats.data.daily} />
                  </details>
                </section>
                <section className="card" aria-labelledby="per-job-chart-title">
                  <div className="dash-section-head">
                    <h2 id="per-job-chart-title">Per job</h2>
                    <MetricToggle metric={metric} onChange={setMetric} />
                  </div>
                  <JobsChart jobs={stats.data.jobs} metric={metric} days={stats.data.days} />
                  <p className="muted small">The table below has every job's numbers.</p>
                </section>
              </div>

              <section aria-labelledby="per-job-title">
                <h2 id="per-job-title">
                  Jobs over the last {stats.data.days} days
                  {stats.isPlaceholderData && <span className="muted small"> (updating…)</span>}
                </h2>
                <JobStatsTable jobs={stats.data.jobs} days={stats.data.days} />
              </section>
            </>
          )}
        </>
      )}
    </>
  );
}
