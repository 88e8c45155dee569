// Search in a log: every occurrence of the query in the visible text of each row. Pure.
import type { Mark } from "./ansi";

export interface SearchMatch {
  row: number;
  start: number;
  end: number;
}

export interface SearchResult {
  matches: SearchMatch[];
  // The marks of each row that has a match, for highlighting.
  byRow: Map<number, Mark[]>;
  // True when `limit` stopped the search: there are more matches than listed.
  truncated: boolean;
}

export interface SearchOptions {
  caseSensitive?: boolean;
  // At most this many matches (a one-letter query in a 150,000-line log finds millions).
  limit?: number;
}

export const EMPTY_SEARCH: SearchResult = { matches: [], byRow: new Map(), truncated: false };
export const DEFAULT_MATCH_LIMIT = 10_000;

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Matches of `query` in rows 0..rowCount-1, whose visible text `textOf` gives. */
export function searchLines(
  rowCount: number,
  textOf: (row: number) => string,
  query: string,
  { caseSensitive = false, limit = DEFAULT_MATCH_LIMIT }: SearchOptions = {},
): SearchResult {
  if (!query) return EMPTY_SEARCH;
  const pattern = new RegExp(escapeRegExp(query), caseSensitive ? "g" : "gi");
  const matches: SearchMatch[] = [];
  const byRow = new Map<number, Mark[]>();
  for (let row = 0; row < rowCount; row++) {
    const text = textOf(row);
    if (text.length < query.length) continue;
    pattern.lastIndex = 0;
    let found: RegExpExecArray | null;
    let marks: Mark[] | undefined;
    while ((found = pattern.exec(text)) !== null) {
      if (matches.length >= limit) return { matches, byRow, truncated: true };
      const start = found.index;
      const end = start + found[0].length;
      matches.push({ row, start, end });
      if (!marks) {
        marks = [];
        byRow.set(row, marks);
      }
      marks.push([start, end]);
    }
  }
  return { matches, byRow, truncated: false };
}

/** The match after (`step` 1) or before (-1) `current`, wrapping around; -1 if none. */
export function stepMatch(current: number, count: number, step: 1 | -1): number {
  if (count === 0) return -1;
  if (current < 0) return step === 1 ? 0 : count - 1;
  return (current + step + count) % count;
}

/** The index of the first match on or after `row` (wrapping to the first), or -1. */
export function firstMatchFrom(matches: readonly SearchMatch[], row: number): number {
  if (matches.length === 0) return -1;
  let lo = 0;
  let hi = matches.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (matches[mid]!.row < row) lo = mid + 1;
    else hi = mid;
  }
  return lo < matches.length ? lo : 0;
}

/** Where `matchIndex` sits among its row's marks (for the "current match" highlight). */
export function markIndexInRow(result: SearchResult, matchIndex: number): number {
  const match = result.matches[matchIndex];
  if (!match) return -1;
  const marks = result.byRow.get(match.row) ?? [];
  return marks.findIndex(([start]) => start === match.start);
}
