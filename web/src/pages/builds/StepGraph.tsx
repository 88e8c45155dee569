// The build's steps as a graph: columns by depth, a box per step (a button that shows its
// log), connectors drawn in an SVG underneath.
import { useMemo } from "react";
import type { Step } from "../../api/client";
import { StatusBadge } from "../../components/StatusBadge";
import { runSeconds } from "../../lib/builds";
import { formatDuration } from "../../lib/format";
import { DEFAULT_SIZES, edgePath, layoutStepGraph } from "./stepGraph";

export type GraphStepData = Step & { depends_on?: string[] | null };

interface StepGraphProps {
  steps: readonly GraphStepData[];
  selected: string | null;
  onSelect: (step: string | null) => void;
  now: number;
}

export function StepGraph({ steps, selected, onSelect, now }: StepGraphProps) {
  const layout = useMemo(() => layoutStepGraph(steps), [steps]);
  const byName = useMemo(() => new Map(steps.map((s) => [s.name, s])), [steps]);
  if (steps.length === 0) {
    return <p className="muted">No steps yet: they appear once the build is planned.</p>;
  }
  const { nodeWidth, nodeHeight } = DEFAULT_SIZES;
  return (
    <div className="step-graph-scroll">
      <div
        className="step-graph"
        style={{ width: layout.width, height: layout.height }}
        role="group"
        aria-label="Steps (select one to show its log)"
      >
        <svg
          className="step-graph-edges"
          width={layout.width}
          height={layout.height}
          viewBox={`0 0 ${layout.width} ${layout.height}`}
          aria-hidden="true"
        >
          {layout.edges.map((edge) => (
            <path
              key={`${edge.from}->${edge.to}`}
              d={edgePath(edge)}
              className={`step-edge step-edge-${byName.get(edge.from)?.status ?? "pending"}`}
            />
          ))}
        </svg>
        {layout.nodes.map((node) => {
          const step = byName.get(node.name)!;
          const isSelected = selected === node.name;
          return (
            <button
              key={node.name}
              type="button"
              className={`step-node step-node-${step.status}${isSelected ? " selected" : ""}`}
              style={{ left: node.x, top: node.y, width: nodeWidth, height: nodeHeight }}
              aria-pressed={isSelected}
              title={step.error_message ?? node.name}
              onClick={() => onSelect(isSelected ? null : node.name)}
            >
              <span className="step-node-name">{node.name}</span>
              <span className="step-node-meta">
                <StatusBadge status={step.status} />
                <span className="muted small">{formatDuration(runSeconds(step, now))}</span>
              </span>
            </button>
          );
        })}
      </div>
    </div>
  );
}
