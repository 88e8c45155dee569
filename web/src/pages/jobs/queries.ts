// The jobs pages' queries, keyed as lib/events.ts expects (["jobs"...], ["builds"...], ["stats"...]).
import { useQuery } from "@tanstack/react-query";
import { api, unwrap } from "../../api/client";

/** The window of the stats the jobs table reads its "last build" from (the dashboard's default). */
export const STATS_DAYS = 7;

export function useJobs() {
  return useQuery({
    queryKey: ["jobs"],
    queryFn: async () => unwrap(await api.GET("/api/v1/jobs")).items,
  });
}

export function useJob(jobId: string) {
  return useQuery({
    queryKey: ["jobs", jobId],
    queryFn: async () => unwrap(await api.GET("/api/v1/jobs/{job_id}", { params: { path: { job_id: jobId } } })),
  });
}

/** Every job's newest build, in one request for the whole table. */
export function useStats() {
  return useQuery({
    queryKey: ["stats", STATS_DAYS],
    queryFn: async () => unwrap(await api.GET("/api/v1/stats", { params: { query: { days: STATS_DAYS } } })),
  });
}

export const RECENT_BUILDS = 15;

export function useJobBuilds(jobId: string) {
  return useQuery({
    queryKey: ["builds", { job_id: jobId }],
    queryFn: async () =>
      unwrap(await api.GET("/api/v1/builds", { params: { query: { job_id: jobId, limit: RECENT_BUILDS } } })),
  });
}
