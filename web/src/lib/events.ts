// Live updates: one Server-Sent Events stream per tab (GET /events/stream) says *what* changed
// (builds, workers, deployments); the matching queries are refetched. No poll loop.
import { fetchEventSource } from "@microsoft/fetch-event-source";
import { useQueryClient } from "@tanstack/react-query";
import { useEffect } from "react";
import { accessToken, refreshSession } from "../auth/session";
import { StaleMarker } from "./staleMarker";

// The query keys each kind of change makes stale.
const STALE_KEYS: Record<string, string[][]> = {
  builds: [["builds"], ["build"], ["stats"], ["jobs"]],
  workers: [["workers"], ["stats"]],
  // pages/environments/queries.ts: the list, one environment's pages, a build's deployments.
  deployments: [["environments"], ["environment"], ["deployments"]],
};
// The statistics aggregate the builds of their whole window in the server: refetched at every
// change of a build (the stream sends one every 200 ms at most on a busy server), each open
// dashboard would ask for them several times a second. Their figures may lag this much.
const MARK_INTERVALS_MS: Record<string, number> = { stats: 5000 };
const RETRY_MS = 3000;

class Unauthorized extends Error {}

export function useLiveUpdates(enabled: boolean): void {
  const queryClient = useQueryClient();
  useEffect(() => {
    if (!enabled) return;
    const controller = new AbortController();
    const marker = new StaleMarker(
      (key) => void queryClient.invalidateQueries({ queryKey: key }),
      MARK_INTERVALS_MS,
    );
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
          marker.markAll(Object.values(STALE_KEYS).flat());
        },
        onmessage(message) {
          if (message.event !== "changed") return;
          const what = (JSON.parse(message.data) as { what: string }).what;
          for (const key of STALE_KEYS[what] ?? []) marker.mark(key);
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
    return () => {
      controller.abort();
      marker.dispose();
    };
  }, [enabled, queryClient]);
}
