// One job, keyed under ["jobs"] as lib/events.ts expects; the lists are in lib/queries.ts.
import { useQuery } from "@tanstack/react-query";
import { api, unwrap } from "../../api/client";

export function useJob(jobId: string) {
  return useQuery({
    queryKey: ["jobs", jobId],
    queryFn: async () => unwrap(await api.GET("/api/v1/jobs/{job_id}", { params: { path: { job_id: jobId } } })),
  });
}
