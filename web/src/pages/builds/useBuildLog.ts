// The live log of one build, from the server's Server-Sent Events stream
// (GET /builds/{id}/logs/stream): `lines` batches, `step`/`status` changes, `reset` when a
// retry restarts the log, and `end` once the last line was sent. Lines go into a LogBuffer
// (outside React state); the view is told at most once per animation frame.
import { fetchEventSource, type EventSourceMessage } from "@microsoft/fetch-event-source";
import { useEffect, useRef, useState } from "react";
import type { BuildStatus } from "../../api/client";
import { accessToken, refreshSession } from "../../auth/session";
import { LogBuffer } from "./logBuffer";

export type LogStreamState = "connecting" | "live" | "reconnecting" | "ended" | "failed";

export interface LogEnd {
  status: BuildStatus;
  exit_code: number | null;
  error_message: string | null;
  number: number;
}

interface LinesEvent {
  seq: number;
  step: string | null;
  lines: { text: string; ts?: string | null }[];
}

const RETRY_MS = 2000;
const CHANGE_DELAY_MS = 150;
const MAX_REFRESHES = 5;

class Unauthorized extends Error {}
class Fatal extends Error {}

async function failureText(response: Response): Promise<string> {
  try {
    const body = (await response.json()) as { error?: { message?: string } };
    if (body.error?.message) return body.error.message;
  } catch {
    // not JSON
  }
  return `The log stream answered ${response.status}.`;
}

export interface BuildLog {
  buffer: LogBuffer;
  // Changes whenever lines were added or cleared.
  version: number;
  state: LogStreamState;
  error: string | null;
  end: LogEnd | null;
}

/**
 * Follows a build's log. `onChange` is called (coalesced) when a step or the build changed
 * status, so the page can refetch the build.
 */
export function useBuildLog(buildId: string, onChange: () => void): BuildLog {
  const bufferRef = useRef<LogBuffer>(null);
  bufferRef.current ??= new LogBuffer();
  const buffer = bufferRef.current;
  const [version, setVersion] = useState(0);
  const [state, setState] = useState<LogStreamState>("connecting");
  const [error, setError] = useState<string | null>(null);
  const [end, setEnd] = useState<LogEnd | null>(null);
  const onChangeRef = useRef(onChange);
  useEffect(() => {
    onChangeRef.current = onChange;
  }, [onChange]);

  useEffect(() => {
    const controller = new AbortController();
    const { signal } = controller;
    buffer.clear();
    setVersion((v) => v + 1);
    setState("connecting");
    setError(null);
    setEnd(null);

    let frame = 0;
    const flush = () => {
      frame = 0;
      if (!signal.aborted) setVersion((v) => v + 1);
    };
    const scheduleFlush = () => {
      if (!frame) frame = window.requestAnimationFrame(flush);
    };
    let changeTimer = 0;
    const changed = () => {
      if (changeTimer) return;
      changeTimer = window.setTimeout(() => {
        changeTimer = 0;
        if (!signal.aborted) onChangeRef.current();
      }, CHANGE_DELAY_MS);
    };

    let lastEventId: string | undefined;
    let ended = false;
    let token: string | null = null;

    const onmessage = (message: EventSourceMessage) => {
      if (signal.aborted) return;
      if (message.id) lastEventId = message.id;
      switch (message.event) {
        case "lines": {
          const batch = JSON.parse(message.data) as LinesEvent;
          buffer.append(batch.step ?? null, batch.lines);
          scheduleFlush();
          break;
        }
        case "reset":
          buffer.clear();
          scheduleFlush();
          changed();
          break;
        case "step":
        case "status":
          changed();
          break;
        case "end":
          ended = true;
          setEnd(JSON.parse(message.data) as LogEnd);
          setState("ended");
          changed();
          break;
      }
    };

    const connect = async (): Promise<void> => {
      token = await accessToken();
      if (!token) throw new Fatal("You are signed out.");
      if (signal.aborted) return;
      const headers: Record<string, string> = { Authorization: `Bearer ${token}` };
      // fetch-event-source resends the last id on its own retries; this is for a new
      // connection after a token refresh.
      if (lastEventId) headers["last-event-id"] = lastEventId;
      await fetchEventSource(`/api/v1/builds/${encodeURIComponent(buildId)}/logs/stream`, {
        signal,
        headers,
        openWhenHidden: true,
        async onopen(response) {
          if (response.status === 401) throw new Unauthorized();
          if (!response.ok) throw new Fatal(await failureText(response));
          setState(ended ? "ended" : "live");
          setError(null);
        },
        onmessage,
        onclose() {
          // The server ends a stream without `end` when it shuts down: resume elsewhere.
          if (!ended) throw new Error("The log stream closed.");
        },
        onerror(err) {
          if (err instanceof Unauthorized || err instanceof Fatal) throw err;
          if (!signal.aborted) setState("reconnecting");
          return RETRY_MS;
        },
      });
    };

    void (async () => {
      for (let attempt = 0; attempt <= MAX_REFRESHES && !signal.aborted; attempt++) {
        try {
          await connect();
          return;
        } catch (err) {
          if (signal.aborted) return;
          if (err instanceof Unauthorized && (await refreshSession(token ?? undefined))) continue;
          setState("failed");
          setError(
            err instanceof Unauthorized
              ? "Your session has ended: sign in again to see the log."
              : err instanceof Error
                ? err.message
                : String(err),
          );
          return;
        }
      }
    })();

    return () => {
      controller.abort();
      if (frame) window.cancelAnimationFrame(frame);
      if (changeTimer) window.clearTimeout(changeTimer);
    };
  }, [buildId, buffer]);

  return { buffer, version, state, error, end };
}
