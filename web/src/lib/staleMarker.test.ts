import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { StaleMarker, type QueryKey } from "./staleMarker";

describe("StaleMarker", () => {
  let marked: QueryKey[];
  let marker: StaleMarker;

  beforeEach(() => {
    vi.useFakeTimers();
    marked = [];
    marker = new StaleMarker((key) => marked.push(key), { stats: 5000 });
  });
  afterEach(() => {
    marker.dispose();
    vi.useRealTimers();
  });

  it("marks a key without an interval at every change", () => {
    for (let i = 0; i < 3; i++) marker.mark(["builds"]);
    expect(marked).toEqual([["builds"], ["builds"], ["builds"]]);
  });

  it("marks a costly key at most once per interval, the last change included", () => {
    marker.mark(["stats"]);
    expect(marked).toEqual([["stats"]]);
    // A change every 200 ms for 4 s: nothing until the interval is over, then one mark.
    for (let i = 0; i < 20; i++) {
      vi.advanceTimersByTime(200);
      marker.mark(["stats"]);
    }
    expect(marked).toHaveLength(1);
    vi.advanceTimersByTime(1000);
    expect(marked).toHaveLength(2);
    // Quiet since: nothing more.
    vi.advanceTimersByTime(60_000);
    expect(marked).toHaveLength(2);
    // A change long after the last mark is marked at once.
    marker.mark(["stats"]);
    expect(marked).toHaveLength(3);
  });

  it("marks everything once at once after a reconnect, and drops what was waiting", () => {
    marker.mark(["stats"]);
    marker.mark(["stats"]);
    marker.markAll([["builds"], ["stats"], ["stats"]]);
    expect(marked).toEqual([["stats"], ["builds"], ["stats"]]);
    vi.advanceTimersByTime(10_000);
    expect(marked).toHaveLength(3);
  });
});
