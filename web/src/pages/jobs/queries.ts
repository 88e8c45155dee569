// One job, keyed under ["jobs"] as lib/events.ts expects; the lists are in lib/queries.ts.
// A job's webhook deliveries are under ["hooks", "deliveries", job id]: no live event refreshes
// them, the tab has its own Refresh.
import { useInfiniteQuery, useQuery } from "@tanstack/react-query";
import { api, unwrap } from "../../api/client";

export function useJob(jobId: string) {
  return useQuery({
    queryKey: ["jobs", jobId],
    queryFn: async () => unwrap(await api.GET("/api/v1/jobs/{job_id}", { params: { path: { job_id: jobId } } })),
  });
}

const DELIVERY_PAGE = 25;

/** The webhook deliveries that matched the job, newest first, a page at a time (admins only). */
export function useDeliveries(jobId: string) {
  return useInfiniteQuery({
    queryKey: ["hooks", "deliveries", jobId],
    queryFn: async ({ pageParam }) =>
      unwrap(
        await api.GET("/api/v1/hooks/deliveries", {
          params: { query: { job_id: jobId, limit: DELIVERY_PAGE, cursor: pageParam } },
        }),
      ),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.next_cursor ?? undefined,
  });
}
