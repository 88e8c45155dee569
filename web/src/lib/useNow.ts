import { useEffect, useState } from "react";

/**
 * The current time, refreshed every `intervalMs` (null: not ticking, the time stays as it was):
 * a display clock for running durations and "2m ago", no network.
 */
export function useNow(intervalMs: number | null): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (intervalMs === null) return;
    setNow(Date.now());
    const timer = window.setInterval(() => setNow(Date.now()), intervalMs);
    return () => window.clearInterval(timer);
  }, [intervalMs]);
  return now;
}
