import type { BuildStatus, Step } from "../api/client";

type AnyStatus = BuildStatus | Step["status"] | "online" | "offline" | "draining" | "loaded" | "refused" | "failed" | string;

const SYMBOL: Record<string, string> = {
  queued: "◷",
  pending: "◷",
  running: "◐",
  success: "✓",
  failure: "✕",
  error: "!",
  cancelled: "⊘",
  skipped: "↷",
  online: "●",
  offline: "○",
  draining: "◑",
  loaded: "✓",
  refused: "⊘",
  failed: "✕",
};

/** A build's, step's, worker's or plugin's status: a colour *and* a word, never colour alone. */
export function StatusBadge({ status }: { status: AnyStatus }) {
  return (
    <span className={`badge badge-${status}`} data-status={status}>
      <span aria-hidden="true">{SYMBOL[status] ?? "•"}</span> {status}
    </span>
  );
}
