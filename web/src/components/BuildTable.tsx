// A table of builds, newest first: the builds list, the dashboard's recent builds and a job's
// recent builds, each with the columns it needs. Durations of running builds tick with `now`.
import { Link } from "react-router";
import type { Build } from "../api/client";
import { runSeconds, triggerLabel, workerName } from "../lib/builds";
import { formatDuration, formatElapsed, formatRelative, formatTime, shortSha } from "../lib/format";
import { StatusBadge } from "./StatusBadge";

/**
 * "number" is the build's number alone, for a table that names the job in another column or
 * is all one job's; "build" is the job's name and the number, for a table without either.
 */
export type BuildColumn =
  | "job"
  | "number"
  | "build"
  | "status"
  | "branch"
  | "commit"
  | "worker"
  | "trigger"
  | "queued"
  | "duration";

const HEADERS: Record<BuildColumn, string> = {
  job: "Job",
  number: "Build",
  build: "Build",
  status: "Status",
  branch: "Branch",
  commit: "Commit",
  worker: "Worker",
  trigger: "Trigger",
  queued: "Queued",
  duration: "Duration",
};

interface BuildTableProps {
  builds: readonly Build[];
  /** The columns, in this order. */
  columns: readonly BuildColumn[];
  /** The columns a narrow screen leaves out. */
  hideNarrow?: readonly BuildColumn[];
  caption: string;
  now: number;
  /** For the worker column. */
  workerNames?: ReadonlyMap<string, string>;
}

export function BuildTable({
  builds,
  columns,
  hideNarrow = ["commit", "worker", "trigger"],
  caption,
  now,
  workerNames = new Map(),
}: BuildTableProps) {
  const narrow = (column: BuildColumn) => (hideNarrow.includes(column) ? "hide-narrow" : undefined);
  return (
    <div className="table-wrap">
      <table>
        <caption className="visually-hidden">{caption}</caption>
        <thead>
          <tr>
            {columns.map((column) => (
              <th key={column} scope="col" className={narrow(column)}>
                {HEADERS[column]}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {builds.map((build) => (
            <tr key={build.id}>
              {columns.map((column) => (
                <BuildCell
                  key={column}
                  column={column}
                  build={build}
                  now={now}
                  workerNames={workerNames}
                  className={narrow(column)}
                />
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

interface BuildCellProps {
  column: BuildColumn;
  build: Build;
  now: number;
  workerNames: ReadonlyMap<string, string>;
  className: string | undefined;
}

function BuildCell({ column, build, now, workerNames, className }: BuildCellProps) {
  const withClass = (extra: string) => (className ? `${className} ${extra}` : extra);
  switch (column) {
    case "job":
      return (
        <td className={className}>
          <Link to={`/jobs/${build.job_id}`}>{build.job_name ?? build.job_id.slice(0, 8)}</Link>
        </td>
      );
    case "number":
      return (
        <td className={className}>
          <Link to={`/builds/${build.id}`} aria-label={`Build ${build.number} of ${build.job_name ?? "job"}`}>
            #{build.number}
          </Link>
        </td>
      );
    case "build":
      return (
        <td className={className}>
          <Link to={`/builds/${build.id}`}>{`${build.job_name ?? "Build"} #${build.number}`}</Link>
        </td>
      );
    case "status":
      return (
        <td className={className}>
          <StatusBadge status={build.status} />
        </td>
      );
    case "branch":
      return <td className={withClass("mono build-table-branch")}>{build.branch ?? "–"}</td>;
    case "commit":
      return (
        <td className={withClass("mono")} title={build.commit_sha ?? undefined}>
          {shortSha(build.commit_sha)}
        </td>
      );
    case "worker":
      return <td className={className}>{workerName(build.worker_id, workerNames)}</td>;
    case "trigger": {
      const pr = build.pull_request;
      const title = pr ? `#${pr.number} ${pr.title} (${pr.source_branch} → ${pr.target_branch})` : undefined;
      return (
        <td className={withClass("build-table-trigger")} title={title}>
          {triggerLabel(build)}
          {pr?.from_fork && <span className="fork-mark"> (fork)</span>}
        </td>
      );
    }
    case "queued":
      return (
        <td className={className} title={formatTime(build.queued_at)}>
          <time dateTime={build.queued_at}>{formatRelative(build.queued_at, now)}</time>
        </td>
      );
    case "duration":
      // Whole seconds while it runs, so the count does not jitter as it ticks.
      return (
        <td className={className}>
          {build.duration_seconds !== null
            ? formatDuration(build.duration_seconds)
            : formatElapsed(runSeconds(build, now))}
        </td>
      );
  }
}
