// Small helpers the builds pages share: durations that tick while running, the lists the
// filters and headers name things from, and authenticated downloads.
import { useQuery } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { api, ApiError, unwrap, type Build, type BuildStatus, type Step } from "../../api/client";
import { authFetch } from "../../auth/session";

export const BUILD_STATUSES: BuildStatus[] = [
  "queued",
  "running",
  "success",
  "failure",
  "cancelled",
  "error",
];

export function isFinished(status: BuildStatus | Step["status"]): boolean {
  return status !== "queued" && status !== "running" && status !== "pending";
}

/** The current time, refreshed every `intervalMs` (null: never, nothing is ticking). */
export function useNow(intervalMs: number | null): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (intervalMs === null) return;
    setNow(Date.now());
    const timer = window.setInterval(() => setNow(Date.now()), intervalMs);
    return () => window.clearInterval(timer);
  }, [intervalMs]);
  return now;
}

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

// The lists are the same the jobs and workers pages use (their first key element), under a
// key of their own so the cached shapes never mix; the live stream still refreshes them.
export function useJobList() {
  return useQuery({
    queryKey: ["jobs", "builds-filter"],
    queryFn: async () => unwrap(await api.GET("/api/v1/jobs")).items,
  });
}

export function useWorkerList() {
  return useQuery({
    queryKey: ["workers", "builds-filter"],
    queryFn: async () => unwrap(await api.GET("/api/v1/workers")).items,
  });
}

/** Fetch a file with the session's bearer token and hand it to the browser as a download. */
export async function downloadWithAuth(url: string, filename: string): Promise<void> {
  const response = await authFetch(new Request(url));
  if (!response.ok) {
    let message = `The server answered ${response.status}.`;
    let code = "error";
    try {
      const body = (await response.json()) as { error?: { message?: string; code?: string } };
      message = body.error?.message ?? message;
      code = body.error?.code ?? code;
    } catch {
      // not JSON: keep the status line
    }
    throw new ApiError(message, response.status, code);
  }
  const blob = await response.blob();
  const href = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = href;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  // The browser has started the download from the blob by now; give it time to copy it.
  window.setTimeout(() => URL.revokeObjectURL(href), 60_000);
}

/** A path with slashes (an artifact's name) as URL path segments. */
export function encodePath(path: string): string {
  return path.split("/").map(encodeURIComponent).join("/");
}
