// The layout of a build's step graph: steps in columns by depth (a step sits one column right
// of its deepest dependency), rows ordered to keep edges short. Pure: no DOM, no React.

export interface GraphStep {
  name: string;
  position: number;
  depends_on?: readonly string[] | null;
}

export interface GraphNode {
  name: string;
  column: number;
  row: number;
  x: number;
  y: number;
}

export interface GraphEdge {
  from: string;
  to: string;
  // From the right middle of `from` to the left middle of `to`.
  x1: number;
  y1: number;
  x2: number;
  y2: number;
}

export interface GraphLayout {
  nodes: GraphNode[];
  edges: GraphEdge[];
  // Step names per column, top to bottom.
  columns: string[][];
  width: number;
  height: number;
}

export interface GraphSizes {
  nodeWidth: number;
  nodeHeight: number;
  gapX: number;
  gapY: number;
}

export const DEFAULT_SIZES: GraphSizes = { nodeWidth: 184, nodeHeight: 56, gapX: 44, gapY: 14 };

/**
 * What each step waits for. As in the runtime: when no step names a dependency, the steps run
 * in order, so each waits for the one before it (by position). Unknown names and a step's own
 * name are dropped.
 */
export function stepDependencies(steps: readonly GraphStep[]): Map<string, string[]> {
  const ordered = [...steps].sort((a, b) => a.position - b.position);
  const names = new Set(ordered.map((s) => s.name));
  const deps = new Map<string, string[]>();
  if (!ordered.some((s) => s.depends_on && s.depends_on.length > 0)) {
    ordered.forEach((step, index) => {
      const previous = ordered[index - 1];
      deps.set(step.name, previous ? [previous.name] : []);
    });
    return deps;
  }
  for (const step of ordered) {
    const own = (step.depends_on ?? []).filter((d) => d !== step.name && names.has(d));
    deps.set(step.name, [...new Set(own)]);
  }
  return deps;
}

/** Column of each step: 0 for steps with no dependency, else 1 + the deepest dependency's.
 * A cycle (the server refuses them, but a graph must never hang the page) is cut where found. */
function depths(order: readonly string[], deps: Map<string, string[]>): Map<string, number> {
  const depth = new Map<string, number>();
  const visiting = new Set<string>();
  const visit = (name: string): number => {
    const known = depth.get(name);
    if (known !== undefined) return known;
    if (visiting.has(name)) return -1; // a back edge: ignored
    visiting.add(name);
    let d = 0;
    for (const dep of deps.get(name) ?? []) {
      const parent = visit(dep);
      if (parent >= 0) d = Math.max(d, parent + 1);
    }
    visiting.delete(name);
    depth.set(name, d);
    return d;
  };
  for (const name of order) visit(name);
  return depth;
}

export function layoutStepGraph(
  steps: readonly GraphStep[],
  sizes: GraphSizes = DEFAULT_SIZES,
): GraphLayout {
  const ordered = [...steps].sort((a, b) => a.position - b.position);
  const order = ordered.map((s) => s.name);
  const position = new Map(ordered.map((s, i) => [s.name, i]));
  const deps = stepDependencies(ordered);
  const depth = depths(order, deps);

  const columns: string[][] = [];
  for (const name of order) {
    const column = depth.get(name) ?? 0;
    (columns[column] ??= []).push(name);
  }
  // Rows: the first column by position; later ones by the mean row of their dependencies
  // (the barycentre heuristic), so edges run mostly straight. Ties keep position order.
  const rowOf = new Map<string, number>();
  columns.forEach((names, c) => {
    if (c > 0) {
      const key = (name: string): number => {
        const rows = (deps.get(name) ?? [])
          .map((d) => rowOf.get(d))
          .filter((r): r is number => r !== undefined);
        return rows.length ? rows.reduce((a, b) => a + b, 0) / rows.length : Infinity;
      };
      const keys = new Map(names.map((n) => [n, key(n)]));
      names.sort(
        (a, b) => keys.get(a)! - keys.get(b)! || position.get(a)! - position.get(b)!,
      );
    }
    names.forEach((name, row) => rowOf.set(name, row));
  });

  const { nodeWidth, nodeHeight, gapX, gapY } = sizes;
  const nodes: GraphNode[] = [];
  const at = new Map<string, GraphNode>();
  columns.forEach((names, column) =>
    names.forEach((name, row) => {
      const node = {
        name,
        column,
        row,
        x: column * (nodeWidth + gapX),
        y: row * (nodeHeight + gapY),
      };
      nodes.push(node);
      at.set(name, node);
    }),
  );
  const edges: GraphEdge[] = [];
  for (const name of order) {
    const to = at.get(name)!;
    for (const dep of deps.get(name) ?? []) {
      const from = at.get(dep)!;
      if (from.column >= to.column) continue; // the cut back edge of a cycle
      edges.push({
        from: dep,
        to: name,
        x1: from.x + nodeWidth,
        y1: from.y + nodeHeight / 2,
        x2: to.x,
        y2: to.y + nodeHeight / 2,
      });
    }
  }
  const tallest = Math.max(0, ...columns.map((c) => c.length));
  return {
    nodes,
    edges,
    columns,
    width: columns.length ? columns.length * nodeWidth + (columns.length - 1) * gapX : 0,
    height: tallest ? tallest * nodeHeight + (tallest - 1) * gapY : 0,
  };
}

/** An SVG path from an edge's start to its end: a horizontal S-curve. */
export function edgePath(edge: GraphEdge): string {
  const bend = Math.max(16, (edge.x2 - edge.x1) / 2);
  return `M ${edge.x1} ${edge.y1} C ${edge.x1 + bend} ${edge.y1}, ${edge.x2 - bend} ${edge.y2}, ${edge.x2} ${edge.y2}`;
}
