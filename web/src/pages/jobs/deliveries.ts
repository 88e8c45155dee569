// How a webhook delivery reads in the job's Deliveries tab. Pure: tested on its own.
import type { Schemas } from "../../api/client";

export type Delivery = Schemas["DeliveryRead"];
export type HookAnswer = Schemas["HookAnswer"];

/**
 * The body as it was received, JSON pretty-printed. GitHub may send its JSON form-encoded
 * (`payload=...`); that is decoded too. Anything else is shown as it came.
 */
export function prettyBody(body: string): string {
  const pretty = (text: string): string | null => {
    try {
      return JSON.stringify(JSON.parse(text), null, 2);
    } catch {
      return null;
    }
  };
  const asJson = pretty(body);
  if (asJson !== null) return asJson;
  if (body.startsWith("payload=")) {
    try {
      const payload = new URLSearchParams(body).get("payload");
      const decoded = payload === null ? null : pretty(payload);
      if (decoded !== null) return decoded;
    } catch {
      // not form-encoded after all
    }
  }
  return body;
}

/** Headers sorted by name, one "Name: value" a line. */
export function formatHeaders(headers: Record<string, unknown>): string {
  return Object.entries(headers)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, value]) => `${name}: ${String(value)}`)
    .join("\n");
}

/** What a replay did, in a sentence. */
export function replaySummary(result: HookAnswer): string {
  const builds = result.builds.length;
  const created =
    builds === 0
      ? "no build created"
      : `${builds === 1 ? "1 build" : `${builds} builds`} created (${result.builds.map((b) => `#${b.number}`).join(", ")})`;
  const ignored = result.ignored.map((i) => i.reason).filter(Boolean);
  const why = builds === 0 && ignored.length > 0 ? `: ${ignored.join("; ")}` : "";
  return `Replayed: ${created}${why}.`;
}

// The server replays only what a job's secret verified (anyone could have sent the rest) and
// what it kept whole; the button is offered for those alone.
export function replayable(delivery: Delivery): boolean {
  return delivery.job_ids.length > 0 && !delivery.body_truncated;
}

export function notReplayableReason(delivery: Delivery): string {
  if (delivery.job_ids.length === 0) {
    return "no job's webhook secret verified this delivery: send it again from the forge";
  }
  return "its body was not kept whole";
}
