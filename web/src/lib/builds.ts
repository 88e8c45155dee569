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
