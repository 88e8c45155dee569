import { LogBuffer, MAX_GROUP_DEPTH } from "./logBuffer";
import { groupsHolding, remapSearch, stepColours, visibleRows } from "./logGroups";
import { searchLines } from "./logSearch";

const lines = (...texts: string[]) => texts.map((text) => ({ text }));

// Two steps running at once, each printing a group; their lines interleave.
function interleaved(): LogBuffer {
  const buffer = new LogBuffer();
  buffer.append("lint", lines("::group::Install ruff", "pip install ruff")); // 0 1
  buffer.append("test", lines("::group::\x1b[1mSetup\x1b[0m", "creating venv")); // 2 3
  buffer.append("lint", lines("Successfully installed ruff", "::endgroup::", "All checks passed")); // 4 5 6
  buffer.append("test", lines("installing deps", "::endgroup::", "3 passed")); // 7 8 9
  return buffer;
}

describe("groups in a log", () => {
  it("fold each step's lines under its own header, whatever ran in between", () => {
    const buffer = interleaved();
    expect(buffer.groups.map((g) => [g.step, g.title, g.line, g.size, g.closed])).toEqual([
      ["lint", "Install ruff", 0, 2, true],
      ["test", "\x1b[1mSetup\x1b[0m", 2, 2, true],
    ]);
    // Collapsed: the headers and what follows the groups; the endgroup lines never show.
    expect(visibleRows(buffer, undefined, () => false)).toEqual([0, 2, 6, 9]);
    // lint's group open, test's closed: test's lines fold, lint's show between them.
    expect(visibleRows(buffer, undefined, (id) => id === 0)).toEqual([0, 1, 2, 4, 6, 9]);
    expect(visibleRows(buffer, undefined, () => true)).toEqual([0, 1, 2, 3, 4, 6, 7, 9]);
    // A step's own view folds the same way.
    expect(visibleRows(buffer, buffer.linesOf("test"), () => false)).toEqual([2, 9]);
    // The header shows its title; search and the view see the title, not the marker.
    expect(buffer.headerOf(2)?.title).toBe("\x1b[1mSetup\x1b[0m");
    expect(buffer.plain(2)).toBe("Setup");
    expect(buffer.depthOf(3)).toBe(1);
    expect(buffer.depthOf(2)).toBe(0);
  });

  it("end a group never closed with its step's lines, and leave other steps alone", () => {
    const buffer = new LogBuffer();
    buffer.append("build", lines("::group::Compile", "cc -c a.c")); // 0 1
    buffer.append("test", lines("::endgroup::", "not in a group")); // 2 3: another step's end
    buffer.append("build", lines("cc -c b.c")); // 4
    expect(buffer.groups[0]?.closed).toBe(false);
    expect(buffer.isGroupEnd(2)).toBe(false); // test had no group open: a plain line
    expect(visibleRows(buffer, undefined, () => false)).toEqual([0, 2, 3]);
  });

  it("nest groups, and open every group holding a line", () => {
    const buffer = new LogBuffer();
    buffer.append(
      "s",
      lines("::group::outer", "a", "::group::inner", "b", "::endgroup::", "c", "::endgroup::", "d"),
    );
    const [outer, inner] = buffer.groups;
    expect([outer?.parent, inner?.parent, inner?.depth]).toEqual([-1, 0, 1]);
    expect([outer?.size, inner?.size]).toEqual([4, 1]); // a, the inner header, b, c
    expect(visibleRows(buffer, undefined, () => false)).toEqual([0, 7]);
    expect(visibleRows(buffer, undefined, (id) => id === 0)).toEqual([0, 1, 2, 5, 7]);
    // An open inner group inside a closed outer one stays hidden.
    expect(visibleRows(buffer, undefined, (id) => id === 1)).toEqual([0, 7]);
    expect([...groupsHolding(buffer, [3])].sort()).toEqual([0, 1]);
    expect([...groupsHolding(buffer, [7])]).toEqual([]);
  });

  it(`show markers deeper than ${MAX_GROUP_DEPTH} as plain lines`, () => {
    const buffer = new LogBuffer();
    const opens = Array.from({ length: MAX_GROUP_DEPTH + 2 }, (_, i) => `::group::g${i}`);
    const ends = opens.map(() => "::endgroup::");
    buffer.append("s", lines(...opens, "deep", ...ends, "after"));
    expect(buffer.groups).toHaveLength(MAX_GROUP_DEPTH);
    const all = visibleRows(buffer, undefined, () => true)!;
    // The two extra headers and their two endgroups show as text.
    expect(all.map((i) => buffer.texts[i])).toEqual([...opens, "deep", "::endgroup::", "::endgroup::", "after"]);
    expect(buffer.groups.every((g) => g.closed)).toBe(true);
  });

  it("leave a log without markers as it is, and forget the groups on a reset", () => {
    const buffer = new LogBuffer();
    buffer.append("s", lines("a", "b"));
    expect(visibleRows(buffer, undefined, () => false)).toBeUndefined();
    const rows = buffer.linesOf("s");
    expect(visibleRows(buffer, rows, () => false)).toBe(rows);
    buffer.append("s", lines("::group::x", "y"));
    const generation = buffer.generation;
    buffer.clear();
    expect(buffer.generation).not.toBe(generation);
    expect(buffer.groups).toEqual([]);
    expect(buffer.hasMarkers).toBe(false);
  });
});

describe("searching a folded log", () => {
  it("finds lines in closed groups and places the matches on the rows shown", () => {
    const buffer = interleaved();
    const all = visibleRows(buffer, undefined, () => true);
    const found = searchLines(all!.length, (row) => buffer.plain(all![row]!), "install");
    expect(found.matches.map((m) => all![m.row])).toEqual([0, 1, 4, 7]); // the title too
    const open = groupsHolding(buffer, found.matches.map((m) => all![m.row]!));
    expect([...open].sort()).toEqual([0, 1]);
    const shown = visibleRows(buffer, undefined, (id) => open.has(id));
    const search = remapSearch(found, all, shown);
    expect(search.matches.map((m) => shown![m.row])).toEqual([0, 1, 4, 7]);
    expect(search.byRow.get(search.matches[0]!.row)).toEqual([[0, 7]]);
  });

  it("matches a header's title, not its marker", () => {
    const buffer = interleaved();
    const all = visibleRows(buffer, undefined, () => true)!;
    expect(searchLines(all.length, (row) => buffer.plain(all[row]!), "::group").matches).toEqual([]);
    expect(searchLines(all.length, (row) => buffer.plain(all[row]!), "Setup").matches).toHaveLength(1);
  });
});

describe("step colours", () => {
  it("follow the step's place in the build, so eight steps in a row differ", () => {
    const steps = ["checkout", "lint", "test (PY=3.11)", "test (PY=3.12)", "wheel"];
    const colours = stepColours(steps);
    expect(new Set(colours.values()).size).toBe(steps.length);
    expect(stepColours(steps).get("wheel")).toBe(colours.get("wheel"));
    expect(stepColours([...Array(9).keys()].map(String)).get("8")).toBe(0);
  });
});
