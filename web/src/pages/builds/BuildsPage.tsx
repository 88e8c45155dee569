// All builds, newest first, filtered by job, status, branch and worker. The filters live in the
// URL (?job=&status=&branch=&worker=), so a filtered view can be linked and survives a reload.
import { useEffect, useId, useMemo, useState } from "react";
import { Link, useSearchParams } from "react-router";
import type { BuildStatus } from "../../api/client";
import { BuildTable } from "../../components/BuildTable";
import { ErrorMessage, Loading } from "../../components/Feedback";
import { useBuildPages, useJobs, useWorkerNames, useWorkers, type BuildFilters } from "../../lib/queries";
import { useNow } from "../../lib/useNow";
import { BUILD_STATUSES, isFinished } from "./buildInfo";
import "./builds.css";

export function filtersFromParams(params: URLSearchParams): BuildFilters {
  const filters: BuildFilters = {};
  const job = params.get("job");
  const status = params.get("status");
  const branch = params.get("branch");
  const worker = params.get("worker");
  if (job) filters.job_id = job;
  if (status && (BUILD_STATUSES as string[]).includes(status)) filters.status = status as BuildStatus;
  if (branch) filters.branch = branch;
  if (worker) filters.worker_id = worker;
  return filters;
}

export function BuildsPage() {
  const [params, setParams] = useSearchParams();
  const filters = useMemo(() => filtersFromParams(params), [params]);
  const jobs = useJobs();
  const workers = useWorkers();
  const ids = { job: useId(), status: useId(), branch: useId(), worker: useId() };

  const setFilter = (name: "job" | "status" | "branch" | "worker", value: string) =>
    setParams(
      (current) => {
        const next = new URLSearchParams(current);
        if (value) next.set(name, value);
        else next.delete(name);
        return next;
      },
      { replace: true },
    );

  // The branch is typed: the URL (and the query) follow a moment after the last key.
  const [branch, setBranch] = useState(filters.branch ?? "");
  useEffect(() => setBranch(filters.branch ?? ""), [filters.branch]);
  useEffect(() => {
    if (branch.trim() === (filters.branch ?? "")) return;
    const timer = window.setTimeout(() => setFilter("branch", branch.trim()), 350);
    return () => window.clearTimeout(timer);
    // Only the typed text starts the timer (setFilter is a new function every render).
  }, [branch]);

  const builds = useBuildPages(filters);
  const items = useMemo(() => builds.data?.pages.flatMap((page) => page.items) ?? [], [builds.data]);
  const anyRunning = items.some((b) => !isFinished(b.status));
  const now = useNow(anyRunning ? 1000 : 30_000);
  const workerNames = useWorkerNames();
  const filtered = Object.keys(filters).length > 0;
  const nextPageError = builds.error;

  // A job or worker named in the URL that is not in the lists still shows as selected.
  const jobOptions = jobs.data ?? [];
  const workerOptions = workers.data ?? [];

  return (
    <section>
      <div className="page-head">
        <h1>Builds</h1>
      </div>

      <form className="card builds-filters" role="search" aria-label="Filter builds" onSubmit={(e) => e.preventDefault()}>
        <div>
          <label htmlFor={ids.job}>Job</label>
          <select id={ids.job} value={filters.job_id ?? ""} onChange={(e) => setFilter("job", e.target.value)}>
            <option value="">All jobs</option>
            {filters.job_id && !jobOptions.some((j) => j.id === filters.job_id) && (
              <option value={filters.job_id}>{jobs.isPending ? "Loading…" : "Unknown job"}</option>
            )}
            {jobOptions.map((job) => (
              <option key={job.id} value={job.id}>
                {job.name}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label htmlFor={ids.status}>Status</label>
          <select id={ids.status} value={filters.status ?? ""} onChange={(e) => setFilter("status", e.target.value)}>
            <option value="">Any status</option>
            {BUILD_STATUSES.map((status) => (
              <option key={status} value={status}>
                {status}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label htmlFor={ids.branch}>Branch</label>
          <input
            id={ids.branch}
            type="search"
            value={branch}
            placeholder="e.g. main"
            autoComplete="off"
            spellCheck={false}
            onChange={(e) => setBranch(e.target.value)}
          />
        </div>
        <div>
          <label htmlFor={ids.worker}>Worker</label>
          <select id={ids.worker} value={filters.worker_id ?? ""} onChange={(e) => setFilter("worker", e.target.value)}>
            <option value="">Any worker</option>
            {filters.worker_id && !workerOptions.some((w) => w.id === filters.worker_id) && (
              <option value={filters.worker_id}>{workers.isPending ? "Loading…" : "Unknown worker"}</option>
            )}
            {workerOptions.map((worker) => (
              <option key={worker.id} value={worker.id}>
                {worker.name}
              </option>
            ))}
          </select>
        </div>
        {filtered && (
          <div className="builds-filters-clear">
            <button type="button" className="button secondary" onClick={() => setParams({}, { replace: true })}>
              Clear filters
            </button>
          </div>
        )}
      </form>
      {jobs.isError && <ErrorMessage error={jobs.error} />}
      {workers.isError && <ErrorMessage error={workers.error} />}

      {builds.isPending ? (
        <Loading what="Loading builds" />
      ) : builds.isError ? (
        <ErrorMessage error={builds.error} />
      ) : items.length === 0 ? (
        <div className="card builds-empty">
          {filtered ? (
            <p>
              No build matches these filters.{" "}
              <button type="button" className="button secondary" onClick={() => setParams({}, { replace: true })}>
                Clear filters
              </button>
            </p>
          ) : (
            <p>
              No builds yet. Open a job on the <Link to="/jobs">Jobs</Link> page and trigger it, or push to a
              repository with a webhook set up.
            </p>
          )}
        </div>
      ) : (
        <>
          <BuildTable
            builds={items}
            columns={["job", "number", "status", "branch", "commit", "worker", "trigger", "queued", "duration"]}
            caption={filtered ? "Builds matching the filters" : "Builds"}
            workerNames={workerNames}
            now={now}
          />
          <div className="builds-more">
            {builds.hasNextPage ? (
              <button
                type="button"
                className="button secondary"
                onClick={() => void builds.fetchNextPage()}
                disabled={builds.isFetchingNextPage}
              >
                {builds.isFetchingNextPage ? "Loading…" : "Load older builds"}
              </button>
            ) : (
              <span className="muted small">
                {items.length} build{items.length === 1 ? "" : "s"}, all shown
              </span>
            )}
            {builds.isFetchNextPageError && <ErrorMessage error={nextPageError} />}
          </div>
        </>
      )}
    </section>
  );
}
