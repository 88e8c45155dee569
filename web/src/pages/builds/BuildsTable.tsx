// A table of builds, newest first. Durations of running builds tick with `now`.
import { Link } from "react-router";
import type { Build } from "../../api/client";
import { StatusBadge } from "../../components/StatusBadge";
import { formatDuration, formatRelative, formatTime, shortSha } from "../../lib/format";
import { runSeconds } from "./buildInfo";

interface BuildsTableProps {
  builds: readonly Build[];
  workerNames: ReadonlyMap<string, string>;
  now: number;
  caption?: string;
}

export function BuildsTable({ builds, workerNames, now, caption = "Builds" }: BuildsTableProps) {
  return (
    <div className="table-wrap">
      <table className="builds-table">
        <caption className="build-sr-only">{caption}</caption>
        <thead>
          <tr>
            <th scope="col">Job</th>
            <th scope="col">Build</th>
            <th scope="col">Status</th>
            <th scope="col">Branch</th>
            <th scope="col" className="hide-narrow">
              Commit
            </th>
            <th scope="col" className="hide-narrow">
              Worker
            </th>
            <th scope="col" className="hide-narrow">
              Trigger
            </th>
            <th scope="col">Queued</th>
            <th scope="col">Duration</th>
          </tr>
        </thead>
        <tbody>
          {builds.map((build) => (
            <tr key={build.id}>
              <td>
                <Link to={`/jobs/${build.job_id}`}>{build.job_name ?? build.job_id.slice(0, 8)}</Link>
              </td>
              <td>
                <Link to={`/builds/${build.id}`} aria-label={`Build ${build.number} of ${build.job_name ?? "job"}`}>
                  #{build.number}
                </Link>
              </td>
              <td>
                <StatusBadge status={build.status} />
              </td>
              <td className="builds-branch">{build.branch ?? "–"}</td>
              <td className="hide-narrow mono" title={build.commit_sha ?? undefined}>
                {shortSha(build.commit_sha)}
              </td>
              <td className="hide-narrow">
                {build.worker_id ? (workerNames.get(build.worker_id) ?? build.worker_id.slice(0, 8)) : "–"}
              </td>
              <td className="hide-narrow">{build.trigger}</td>
              <td title={formatTime(build.queued_at)}>
                <time dateTime={build.queued_at}>{formatRelative(build.queued_at, now)}</time>
              </td>
              <td>{formatDuration(runSeconds(build, now))}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
