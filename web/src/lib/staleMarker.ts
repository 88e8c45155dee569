// Marks queries stale as the events stream announces changes: at once, except for queries
// that are costly to the server, which are marked at most once per their interval, the last
// change always included (a change within the interval waits for its end).

export type QueryKey = readonly string[];

export class StaleMarker {
  private readonly markedAt = new Map<string, number>();
  private readonly pending = new Map<string, ReturnType<typeof setTimeout>>();

  constructor(
    private readonly invalidate: (key: QueryKey) => void,
    // Milliseconds between two marks of a query key's first word; a word not listed: none.
    private readonly intervals: Readonly<Record<string, number>>,
  ) {}

  mark(key: QueryKey): void {
    const interval = this.intervals[key[0] ?? ""];
    if (interval === undefined) {
      this.invalidate(key);
      return;
    }
    const id = JSON.stringify(key);
    if (this.pending.has(id)) return; // the mark to come includes this change
    const wait = (this.markedAt.get(id) ?? -Infinity) + interval - Date.now();
    if (wait <= 0) {
      this.markNow(id, key);
      return;
    }
    this.pending.set(
      id,
      setTimeout(() => {
        this.pending.delete(id);
        this.markNow(id, key);
      }, wait),
    );
  }

  /** Every key at once, whatever its interval: after a reconnect nobody knows what changed. */
  markAll(keys: readonly QueryKey[]): void {
    this.dispose();
    const ids = new Set<string>();
    for (const key of keys) {
      const id = JSON.stringify(key);
      if (!ids.has(id)) this.markNow(id, key);
      ids.add(id);
    }
  }

  dispose(): void {
    for (const timer of this.pending.values()) clearTimeout(timer);
    this.pending.clear();
  }

  private markNow(id: string, key: QueryKey): void {
    this.markedAt.set(id, Date.now());
    this.invalidate(key);
  }
}
