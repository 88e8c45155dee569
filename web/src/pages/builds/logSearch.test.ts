import { firstMatchFrom, markIndexInRow, searchLines, stepMatch } from "./logSearch";

const lines = ["Compiling foo", "warning: unused foo", "FOO done", "nothing here", "foo foo"];
const textOf = (row: number) => lines[row]!;

describe("searchLines", () => {
  it("finds every occurrence, ignoring case by default", () => {
    const result = searchLines(lines.length, textOf, "foo");
    expect(result.matches).toEqual([
      { row: 0, start: 10, end: 13 },
      { row: 1, start: 16, end: 19 },
      { row: 2, start: 0, end: 3 },
      { row: 4, start: 0, end: 3 },
      { row: 4, start: 4, end: 7 },
    ]);
    expect(result.byRow.get(4)).toEqual([
      [0, 3],
      [4, 7],
    ]);
    expect(result.byRow.has(3)).toBe(false);
    expect(result.truncated).toBe(false);
  });

  it("matches case when asked", () => {
    expect(searchLines(lines.length, textOf, "FOO", { caseSensitive: true }).matches).toEqual([
      { row: 2, start: 0, end: 3 },
    ]);
  });

  it("treats the query as text, not a pattern", () => {
    const rows = ["a.b", "axb", "(x)[y]*"];
    expect(searchLines(3, (r) => rows[r]!, "a.b").matches).toEqual([{ row: 0, start: 0, end: 3 }]);
    expect(searchLines(3, (r) => rows[r]!, "[y]*").matches).toEqual([{ row: 2, start: 3, end: 7 }]);
  });

  it("finds nothing for an empty query", () => {
    expect(searchLines(lines.length, textOf, "").matches).toEqual([]);
  });

  it("stops at the limit and says so", () => {
    const result = searchLines(1000, () => "x x x", "x", { limit: 10 });
    expect(result.matches).toHaveLength(10);
    expect(result.truncated).toBe(true);
  });

  it("searches 150,000 lines", () => {
    const result = searchLines(150_000, (row) => `line ${row}`, "line 149999");
    expect(result.matches).toEqual([{ row: 149_999, start: 0, end: 11 }]);
  });
});

describe("moving between matches", () => {
  it("steps forward and back, wrapping around", () => {
    expect(stepMatch(-1, 3, 1)).toBe(0);
    expect(stepMatch(-1, 3, -1)).toBe(2);
    expect(stepMatch(2, 3, 1)).toBe(0);
    expect(stepMatch(0, 3, -1)).toBe(2);
    expect(stepMatch(0, 0, 1)).toBe(-1);
  });

  it("finds the first match on or after a row", () => {
    const { matches } = searchLines(lines.length, textOf, "foo");
    expect(firstMatchFrom(matches, 0)).toBe(0);
    expect(firstMatchFrom(matches, 3)).toBe(3);
    expect(firstMatchFrom(matches, 99)).toBe(0);
    expect(firstMatchFrom([], 0)).toBe(-1);
  });

  it("knows which mark of its row a match is", () => {
    const result = searchLines(lines.length, textOf, "foo");
    expect(markIndexInRow(result, 4)).toBe(1);
    expect(markIndexInRow(result, 2)).toBe(0);
    expect(markIndexInRow(result, 99)).toBe(-1);
  });
});
