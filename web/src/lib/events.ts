// Live updates: one Server-Sent Events stream per tab (GET /events/stream) says *what* changed
// (builds, workers, deployments); the matching queries are refetched. No poll loop.
import { fetchEventSource } from "@microsoft/fetch-event-source";
import { useQueryClient } from "@tanstack/react-query";
import { useEffect } from "react";
import { accessToken, refreshSession } from "../auth/session";

// The query keys each kind of change makes stale.
const STALE_KEYS: Record<string, string[][]> = {
  builds: [["builds"], ["build"], ["stats"], ["jobs"]],
  workers: [["workers"], ["stats"]],
  // pages/environments/queries.ts: the list, one environment's pages, a build's deployments.
  deployments: [["environments"], ["environment"], ["deployments"]],
};
const RETRY_MS = 3000;

class Unauthorized extends Error {}

export function useLiveUpdates(enabled: boolean): void {
  const queryClient = useQueryClient();
  useEffect(() => {
    if (!enabled) return;
    const controller = new AbortController();
    let token: string | null = null;
    const connect = async (): Promise<void> => {
      token = await accessToken();
      if (!token || controller.signal.aborted) return;
      await fetchEventSource("/api/v1/events/stream", {
        signal: controller.signal,
        headers: { Authorization: `Bearer ${token}` },
        openWhenHidden: true,
        async onopen(response) {
          if (response.status === 401) throw new Unauthorized();
          if (!response.ok) throw new Error(`events stream answered ${response.status}`);
          // Whatever changed while disconnected is unknown: refetch all that is live.
          for (const keys of Object.values(STALE_KEYS)) {
            for (const key of keys) void queryClient.invalidateQueries({ queryKey: key });
          }
        },
        onmessage(message) {
          if (message.event !== "changed") return;
          const what = (JSON.parse(message.data) as { what: string }).what;
          for (const key of STALE_KEYS[what] ?? []) void queryClient.invalidateQueries({ queryKey: key });
        },
        onclose() {
          throw new Error("events stream closed"); // reconnect
        },
        onerror(error) {
          if (error instanceof Unauthorized) throw error;
          return RETRY_MS;
        },
      });
    };
    const run = async (): Promise<void> => {
      // A 401 means the access token expired mid-stream: refresh, then reconnect.
      for (let attempt = 0; attempt < 5 && !controller.signal.aborted; attempt++) {
        try {
          await connect();
          return;
        } catch (error) {
          if (!(error instanceof Unauthorized)) return;
          if (!(await refreshSession(token ?? undefined))) return;
        }
      }
    };
    void run();
    return () => controller.abort();
  }, [enabled, queryClient]);
}
