// How a build reads wherever builds are shown: how long it ran, which worker ran it.
import type { Build } from "../api/client";

/** Seconds a build or step ran: its recorded duration once finished, else until `now`. */
export function runSeconds(
  item: Pick<Build, "started_at" | "completed_at"> & { duration_seconds?: number | null },
  now: number,
): number | null {
  if (item.duration_seconds !== null && item.duration_seconds !== undefined) return item.duration_seconds;
  if (!item.started_at) return null;
  const end = item.completed_at ? Date.parse(item.completed_at) : now;
  return Math.max(0, (end - Date.parse(item.started_at)) / 1000);
}

/** A worker's name; the start of its id while the list of workers does not have it (yet). */
export function workerName(workerId: string | null, workerNames: ReadonlyMap<string, string>): string {
  if (!workerId) return "–";
  return workerNames.get(workerId) ?? workerId.slice(0, 8);
}

type BuildOriginFields = Pick<Build, "trigger"> &
  Partial<Pick<Build, "event" | "tag" | "pull_request">>;

/**
 * What started a build, in a word or two for a table cell: "push", "tag v1.2", "PR #7",
 * "cron", "manual"; a retry says what it replays ("retry of PR #7").
 */
export function triggerLabel(build: BuildOriginFields): string {
  const event = build.trigger === "retry" ? (build.event ?? null) : build.trigger;
  let what: string | null;
  switch (event) {
    case "tag":
      what = build.tag ? `tag ${build.tag}` : "tag";
      break;
    case "pull_request":
      what = build.pull_request ? `PR #${build.pull_request.number}` : "pull request";
      break;
    default:
      what = event;
  }
  if (build.trigger !== "retry") return what ?? build.trigger;
  return what && what !== "retry" ? `retry of ${what}` : "retry";
}

/** The first line of a commit message, for one line of text. */
export function commitTitle(message: string | null | undefined): string | null {
  const first = (message ?? "").split("\n").find((line) => line.trim() !== "");
  return first === undefined ? null : first.trim();
}
