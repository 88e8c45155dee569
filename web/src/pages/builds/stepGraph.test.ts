import { DEFAULT_SIZES, edgePath, layoutStepGraph, stepDependencies } from "./stepGraph";

const S = DEFAULT_SIZES;

describe("stepDependencies", () => {
  it("chains steps in position order when none names a dependency", () => {
    const deps = stepDependencies([
      { name: "test", position: 1 },
      { name: "build", position: 0 },
      { name: "deploy", position: 2, depends_on: [] },
    ]);
    expect(Object.fromEntries(deps)).toEqual({ build: [], test: ["build"], deploy: ["test"] });
  });

  it("keeps declared dependencies and drops unknown, own and repeated names", () => {
    const deps = stepDependencies([
      { name: "a", position: 0, depends_on: [] },
      { name: "b", position: 1, depends_on: ["a", "a", "b", "ghost"] },
      { name: "c", position: 2, depends_on: null },
    ]);
    expect(Object.fromEntries(deps)).toEqual({ a: [], b: ["a"], c: [] });
  });
});

describe("layoutStepGraph", () => {
  it("lays out a chain as one row of columns", () => {
    const layout = layoutStepGraph([
      { name: "one", position: 0 },
      { name: "two", position: 1 },
      { name: "three", position: 2 },
    ]);
    expect(layout.columns).toEqual([["one"], ["two"], ["three"]]);
    expect(layout.nodes.map((n) => [n.name, n.column, n.row])).toEqual([
      ["one", 0, 0],
      ["two", 1, 0],
      ["three", 2, 0],
    ]);
    expect(layout.edges.map((e) => `${e.from}->${e.to}`)).toEqual(["one->two", "two->three"]);
    expect(layout.width).toBe(3 * S.nodeWidth + 2 * S.gapX);
    expect(layout.height).toBe(S.nodeHeight);
  });

  it("puts a step one column right of its deepest dependency (a diamond and a long arm)", () => {
    const layout = layoutStepGraph([
      { name: "checkout", position: 0, depends_on: [] },
      { name: "lint", position: 1, depends_on: ["checkout"] },
      { name: "unit", position: 2, depends_on: ["checkout"] },
      { name: "package", position: 3, depends_on: ["unit"] },
      { name: "release", position: 4, depends_on: ["lint", "package"] },
    ]);
    expect(layout.columns).toEqual([["checkout"], ["lint", "unit"], ["package"], ["release"]]);
    const release = layout.nodes.find((n) => n.name === "release")!;
    expect(release.x).toBe(3 * (S.nodeWidth + S.gapX));
    const unit = layout.nodes.find((n) => n.name === "unit")!;
    expect(unit.y).toBe(S.nodeHeight + S.gapY);
    expect(layout.height).toBe(2 * S.nodeHeight + S.gapY);
    const edge = layout.edges.find((e) => e.from === "lint" && e.to === "release")!;
    expect(edge).toMatchObject({
      x1: 1 * (S.nodeWidth + S.gapX) + S.nodeWidth,
      y1: S.nodeHeight / 2,
      x2: release.x,
      y2: S.nodeHeight / 2,
    });
    expect(layout.edges).toHaveLength(5);
  });

  it("keeps independent roots in one column, in position order", () => {
    const layout = layoutStepGraph([
      { name: "b", position: 1, depends_on: [] },
      { name: "a", position: 0, depends_on: [] },
      { name: "after-b", position: 2, depends_on: ["b"] },
    ]);
    expect(layout.columns).toEqual([["a", "b"], ["after-b"]]);
  });

  it("orders a column by the rows of its dependencies, to keep edges straight", () => {
    const layout = layoutStepGraph([
      { name: "x", position: 0, depends_on: [] },
      { name: "y", position: 1, depends_on: [] },
      { name: "after-y", position: 2, depends_on: ["y"] },
      { name: "after-x", position: 3, depends_on: ["x"] },
    ]);
    expect(layout.columns[1]).toEqual(["after-x", "after-y"]);
  });

  it("survives a cycle instead of hanging", () => {
    const layout = layoutStepGraph([
      { name: "a", position: 0, depends_on: ["b"] },
      { name: "b", position: 1, depends_on: ["a"] },
    ]);
    expect(layout.nodes).toHaveLength(2);
    expect(layout.edges.every((e) => e.from !== e.to)).toBe(true);
  });

  it("is empty for no steps", () => {
    expect(layoutStepGraph([])).toEqual({ nodes: [], edges: [], columns: [], width: 0, height: 0 });
  });

  it("draws an edge as an S-curve between its ends", () => {
    expect(edgePath({ from: "a", to: "b", x1: 0, y1: 10, x2: 100, y2: 50 })).toBe(
      "M 0 10 C 50 10, 50 50, 100 50",
    );
  });
});
