// Folding a log's groups and telling its steps apart: which rows a view shows when some
// groups are collapsed, which groups a search or a line link must open, and each step's
// colour. Pure: everything comes from a LogBuffer and the view's state.
import type { LogBuffer } from "./logBuffer";
import type { SearchResult } from "./logSearch";

/** The rows (global line indexes, ascending) a view shows: `rows` (all lines when undefined)
 * without `::endgroup::` lines and without the lines of groups that are not open. A header
 * shows whenever the group it sits in does. Undefined (all lines) for a log with no markers,
 * so a view without groups keeps the live array it was given. */
export function visibleRows(
  buffer: LogBuffer,
  rows: readonly number[] | undefined,
  isOpen: (group: number) => boolean,
): readonly number[] | undefined {
  if (!buffer.hasMarkers) return rows;
  // Groups are numbered in the order their headers came, so a parent comes before its children.
  const hidden: boolean[] = [];
  for (const group of buffer.groups) {
    hidden.push(!isOpen(group.id) || (group.parent >= 0 && hidden[group.parent]!));
  }
  const shown: number[] = [];
  const count = rows ? rows.length : buffer.length;
  for (let row = 0; row < count; row++) {
    const index = rows ? rows[row]! : row;
    if (buffer.isGroupEnd(index)) continue;
    const group = buffer.groupOf(index);
    if (group >= 0 && hidden[group]) continue;
    shown.push(index);
  }
  return shown;
}

/** Every group that holds one of `lines` (at any depth): what must open to show them. */
export function groupsHolding(buffer: LogBuffer, lines: Iterable<number>): Set<number> {
  const groups = new Set<number>();
  for (const line of lines) {
    for (let group = buffer.groupOf(line); group >= 0 && !groups.has(group); ) {
      groups.add(group);
      group = buffer.groups[group]!.parent;
    }
  }
  return groups;
}

/** The global line index of row `row` of `rows` (all lines when undefined). */
export function lineAt(rows: readonly number[] | undefined, row: number): number {
  return rows ? rows[row]! : row;
}

/** Where line `index` is among `rows` (ascending; all lines when undefined), or -1. */
export function rowOf(rows: readonly number[] | undefined, index: number): number {
  if (!rows) return index;
  let lo = 0;
  let hi = rows.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (rows[mid]! < index) lo = mid + 1;
    else hi = mid;
  }
  return lo < rows.length && rows[lo] === index ? lo : -1;
}

/** A search made over the rows `from` shown as rows of `to` (which holds every matching line
 * once the groups holding them are open); matches on lines `to` lacks are dropped. */
export function remapSearch(
  result: SearchResult,
  from: readonly number[] | undefined,
  to: readonly number[] | undefined,
): SearchResult {
  if (from === to) return result;
  const matches: SearchResult["matches"] = [];
  const byRow: SearchResult["byRow"] = new Map();
  const rowFor = new Map<number, number>();
  for (const match of result.matches) {
    let row = rowFor.get(match.row);
    if (row === undefined) {
      row = rowOf(to, lineAt(from, match.row));
      rowFor.set(match.row, row);
      if (row >= 0) byRow.set(row, result.byRow.get(match.row) ?? []);
    }
    if (row >= 0) matches.push({ ...match, row });
  }
  return { matches, byRow, truncated: result.truncated };
}

export const STEP_COLOURS = 8;

/** Each step's colour (0..STEP_COLOURS-1) by its place among the build's steps (`steps`, in
 * position order): the same in every view and on every reload, and different for any eight
 * steps in a row. */
export function stepColours(steps: readonly string[]): Map<string, number> {
  return new Map(steps.map((name, position) => [name, position % STEP_COLOURS]));
}
