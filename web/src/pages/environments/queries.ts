// Environments and deployments. Keys start with the words lib/events.ts refreshes when the
// server says `deployments` changed: "environments" (the list), "environment" (one, with its
// history pages) and "deployments" (a build's). While one of them shows a deployment that waits
// or runs, it also asks again every few seconds: a missed event must not leave an Approve
// button on screen for a deployment that is long gone.
import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, unwrap } from "../../api/client";
import { isActive, type Deployment } from "./deployments";

export const ACTIVE_POLL_MS = 3000;
const HISTORY_PAGE = 25;

function pollWhileActive(deployments: readonly Deployment[] | undefined): number | false {
  return deployments?.some(isActive) ? ACTIVE_POLL_MS : false;
}

export function useEnvironments() {
  return useQuery({
    queryKey: ["environments"],
    queryFn: async () => unwrap(await api.GET("/api/v1/environments")).items,
    refetchInterval: (query) =>
      query.state.data?.some((env) => env.running !== null || env.waiting > 0) ? ACTIVE_POLL_MS : false,
  });
}

/** One environment; its history newest first, a page at a time (`fetchNextPage` for older). */
export function useEnvironment(name: string) {
  return useInfiniteQuery({
    queryKey: ["environment", name],
    queryFn: async ({ pageParam }) =>
      unwrap(
        await api.GET("/api/v1/environments/{name}", {
          params: { path: { name }, query: { cursor: pageParam, limit: HISTORY_PAGE } },
        }),
      ),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.next_cursor ?? undefined,
    refetchInterval: (query) =>
      pollWhileActive(query.state.data?.pages.flatMap((page) => page.history)),
  });
}

/** The build's deployments (and the rollbacks that replaced them). */
export function useBuildDeployments(buildId: string) {
  return useQuery({
    queryKey: ["deployments", "build", buildId],
    queryFn: async () =>
      unwrap(
        await api.GET("/api/v1/builds/{build_id}/deployments", { params: { path: { build_id: buildId } } }),
      ).items,
    refetchInterval: (query) => pollWhileActive(query.state.data),
  });
}

/** One deployment with the progress lines of the server's rollout (while asked for). */
export function useDeploymentLog(deploymentId: string, enabled: boolean) {
  return useQuery({
    queryKey: ["deployments", "one", deploymentId],
    queryFn: async () =>
      unwrap(
        await api.GET("/api/v1/deployments/{deployment_id}", {
          params: { path: { deployment_id: deploymentId } },
        }),
      ),
    enabled,
    refetchInterval: (query) => (query.state.data && isActive(query.state.data) ? ACTIVE_POLL_MS : false),
  });
}

/** After any decision: every view of deployments, and the builds whose steps they hold. */
function useRefreshDeployments() {
  const queryClient = useQueryClient();
  return () => {
    for (const key of [["deployments"], ["environments"], ["environment"], ["build"]]) {
      void queryClient.invalidateQueries({ queryKey: key });
    }
  };
}

export function useApproveDeployment() {
  const refresh = useRefreshDeployments();
  return useMutation({
    mutationFn: async (deploymentId: string) =>
      unwrap(
        await api.POST("/api/v1/deployments/{deployment_id}/approve", {
          params: { path: { deployment_id: deploymentId } },
        }),
      ),
    // A 409 means someone else decided first: show what it is now either way.
    onSettled: refresh,
  });
}

export function useRejectDeployment() {
  const refresh = useRefreshDeployments();
  return useMutation({
    mutationFn: async ({ deploymentId, reason }: { deploymentId: string; reason: string }) =>
      unwrap(
        await api.POST("/api/v1/deployments/{deployment_id}/reject", {
          params: { path: { deployment_id: deploymentId } },
          body: reason.trim() ? { reason: reason.trim() } : {},
        }),
      ),
    onSettled: refresh,
  });
}

/** Roll back `environment`: to `deploymentId`'s version, or (none) to the one before the current. */
export function useRollback(environment: string) {
  const refresh = useRefreshDeployments();
  return useMutation({
    mutationFn: async (deploymentId: string | null) =>
      unwrap(
        await api.POST("/api/v1/environments/{name}/rollback", {
          params: { path: { name: environment } },
          body: deploymentId ? { deployment_id: deploymentId } : {},
        }),
      ),
    onSettled: refresh,
  });
}

export function useSetApprovalRequired(environment: string) {
  const refresh = useRefreshDeployments();
  return useMutation({
    mutationFn: async (approvalRequired: boolean) =>
      unwrap(
        await api.PUT("/api/v1/environments/{name}", {
          params: { path: { name: environment } },
          body: { approval_required: approvalRequired },
        }),
      ),
    onSettled: refresh,
  });
}
