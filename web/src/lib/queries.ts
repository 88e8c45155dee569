// The queries several pages read, so that they share one cache entry (and one request). Each
// key starts with the word lib/events.ts refreshes on a change ("jobs", "workers", "builds",
// "stats"), and no key ever holds two shapes of data: one page of builds and the pages of the
// builds list are under keys of their own.
import { keepPreviousData, useInfiniteQuery, useQuery } from "@tanstack/react-query";
import { useMemo } from "react";
import { api, unwrap } from "../api/client";
import type { operations } from "../api/schema";

export type BuildQuery = NonNullable<operations["list_builds"]["parameters"]["query"]>;
export type BuildFilters = Pick<BuildQuery, "job_id" | "status" | "branch" | "worker_id">;

export function useJobs() {
  return useQuery({
    queryKey: ["jobs"],
    queryFn: async () => unwrap(await api.GET("/api/v1/jobs")).items,
  });
}

export function useWorkers() {
  return useQuery({
    queryKey: ["workers"],
    queryFn: async () => unwrap(await api.GET("/api/v1/workers")).items,
  });
}

/** Worker names by id, for the lists that say which worker ran a build. */
export function useWorkerNames(): ReadonlyMap<string, string> {
  const workers = useWorkers();
  return useMemo(() => new Map((workers.data ?? []).map((w) => [w.id, w.name] as const)), [workers.data]);
}

/** The numbers of the last `days`; while another window loads, the last one stays on screen. */
export function useStats(days: number) {
  return useQuery({
    queryKey: ["stats", days],
    queryFn: async () => unwrap(await api.GET("/api/v1/stats", { params: { query: { days } } })),
    placeholderData: keepPreviousData,
  });
}

/** The newest builds that match, one page of them (its `next_cursor` says whether there are more). */
export function useBuilds(query: BuildQuery) {
  return useQuery({
    queryKey: ["builds", "page", query],
    queryFn: async () => unwrap(await api.GET("/api/v1/builds", { params: { query } })),
  });
}

const PAGE_SIZE = 50;

/** The builds that match, newest first, a page at a time: `fetchNextPage` loads older ones. */
export function useBuildPages(filters: BuildFilters) {
  return useInfiniteQuery({
    queryKey: ["builds", "pages", filters],
    queryFn: async ({ pageParam }) =>
      unwrap(
        await api.GET("/api/v1/builds", {
          params: { query: { ...filters, cursor: pageParam, limit: PAGE_SIZE } },
        }),
      ),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.next_cursor ?? undefined,
  });
}
