// The pipeline's YAML in a plain textarea with a line-number gutter. Problems are shown at their
// line (a marker in the gutter and a band behind the text) and listed under the editor; a
// listed problem takes the keyboard to its line.
import { useRef, type KeyboardEvent, type ReactNode, type UIEvent } from "react";
import type { PipelineProblem } from "./jobForm";

interface Props {
  id: string;
  label: ReactNode;
  value: string;
  onChange: (value: string) => void;
  /** Problems to show; lines are 1-based, null when the problem has no place. */
  errors: readonly PipelineProblem[];
  /** What the last check said ("valid, 3 steps", "checking…"), shown under the editor. */
  status?: ReactNode;
  /** A message about the field as a whole (e.g. from saving). */
  fieldError?: string;
  hint?: ReactNode;
  disabled?: boolean;
}

/** Where line `line` (1-based) starts and ends in `text`; past the end means the last line. */
export function lineRange(text: string, line: number): [number, number] {
  let start = 0;
  for (let current = 1; current < line; current++) {
    const next = text.indexOf("\n", start);
    if (next === -1) break;
    start = next + 1;
  }
  const end = text.indexOf("\n", start);
  return [start, end === -1 ? text.length : end];
}

/** The problems of each line, lines past the end counted as the last one. */
export function problemsByLine(
  errors: readonly PipelineProblem[],
  lineCount: number,
): Map<number, PipelineProblem[]> {
  const byLine = new Map<number, PipelineProblem[]>();
  for (const error of errors) {
    if (error.line === null || error.line < 1) continue;
    const line = Math.min(error.line, lineCount);
    byLine.set(line, [...(byLine.get(line) ?? []), error]);
  }
  return byLine;
}

export function describeProblem(error: PipelineProblem): string {
  const what = error.field ? `${error.field}: ${error.message}` : error.message;
  if (error.line === null) return `Whole pipeline: ${what}`;
  const where = error.column ? `Line ${error.line}, column ${error.column}` : `Line ${error.line}`;
  return `${where}: ${what}`;
}

export function PipelineEditor({
  id,
  label,
  value,
  onChange,
  errors,
  status,
  fieldError,
  hint,
  disabled,
}: Props) {
  const textarea = useRef<HTMLTextAreaElement>(null);
  const gutter = useRef<HTMLDivElement>(null);
  const backdrop = useRef<HTMLDivElement>(null);
  const lines = value.split("\n");
  const byLine = problemsByLine(errors, lines.length);

  const syncScroll = (event: UIEvent<HTMLTextAreaElement>) => {
    const top = event.currentTarget.scrollTop;
    if (gutter.current) gutter.current.scrollTop = top;
    if (backdrop.current) backdrop.current.scrollTop = top;
  };

  const goToLine = (line: number) => {
    const area = textarea.current;
    if (!area) return;
    const [start, end] = lineRange(area.value, line);
    area.focus();
    area.setSelectionRange(start, end);
    const lineHeight = Number.parseFloat(getComputedStyle(area).lineHeight) || 20;
    area.scrollTop = Math.max(0, (line - 1) * lineHeight - area.clientHeight / 3);
  };

  // Enter keeps the indentation of the line it breaks: YAML lives on indentation.
  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    if (event.key !== "Enter" || event.shiftKey || event.altKey || event.ctrlKey || event.metaKey) {
      return;
    }
    const area = event.currentTarget;
    const before = area.value.slice(0, area.selectionStart);
    const lineStart = before.lastIndexOf("\n") + 1;
    const indent = /^[ \t]*/.exec(before.slice(lineStart))?.[0] ?? "";
    const extra = /:\s*$/.test(before) ? "  " : "";
    if (!indent && !extra) return;
    // execCommand keeps the browser's undo history; where it is missing, typing goes on as usual.
    if (document.execCommand?.("insertText", false, `\n${indent}${extra}`)) event.preventDefault();
  };

  const hintId = `${id}-hint`;
  const statusId = `${id}-status`;
  const listId = `${id}-problems`;
  const errorId = `${id}-error`;
  const describedBy = [hint ? hintId : null, statusId, errors.length ? listId : null, fieldError ? errorId : null]
    .filter(Boolean)
    .join(" ");

  return (
    <div className="pipeline-editor">
      <label htmlFor={id}>{label}</label>
      {hint && (
        <p id={hintId} className="muted small pe-hint">
          {hint}
        </p>
      )}
      <div className={`pe-frame${errors.length ? " pe-invalid" : ""}`}>
        <div className="pe-gutter" ref={gutter} aria-hidden="true" data-testid="pipeline-gutter">
          {lines.map((_, index) => {
            const line = index + 1;
            const problems = byLine.get(line);
            return (
              <div
                key={line}
                className={`pe-line-no${problems ? " pe-line-error" : ""}`}
                data-line={line}
                data-error={problems ? "true" : undefined}
              >
                {problems && (
                  <span
                    className="pe-marker"
                    title={problems.map(describeProblem).join("\n")}
                    onClick={() => goToLine(line)}
                  >
                    !
                  </span>
                )}
                {line}
              </div>
            );
          })}
        </div>
        <div className="pe-text">
          <div className="pe-backdrop" ref={backdrop} aria-hidden="true">
            {lines.map((_, index) => (
              <div key={index} className={byLine.has(index + 1) ? "pe-band pe-band-error" : "pe-band"} />
            ))}
          </div>
          <textarea
            id={id}
            ref={textarea}
            className="pe-textarea"
            value={value}
            wrap="off"
            spellCheck={false}
            autoCapitalize="off"
            autoComplete="off"
            autoCorrect="off"
            rows={Math.min(Math.max(lines.length + 1, 10), 28)}
            disabled={disabled}
            aria-invalid={errors.length > 0 || Boolean(fieldError) ? true : undefined}
            aria-describedby={describedBy}
            onChange={(e) => onChange(e.target.value)}
            onScroll={syncScroll}
            onKeyDown={onKeyDown}
          />
        </div>
      </div>
      <div id={statusId} className="pe-status small" role="status" aria-live="polite">
        {status}
      </div>
      {errors.length > 0 && (
        <ul id={listId} className="pe-problems" aria-label="Problems in the pipeline">
          {errors.map((error, index) => (
            <li key={index}>
              {error.line === null ? (
                <span className="pe-problem">
                  <span aria-hidden="true">✕ </span>
                  {describeProblem(error)}
                </span>
              ) : (
                <button
                  type="button"
                  className="pe-problem pe-jump"
                  data-line={error.line}
                  onClick={() => goToLine(Math.min(error.line ?? 1, lines.length))}
                >
                  <span aria-hidden="true">✕ </span>
                  {describeProblem(error)}
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
      {fieldError && (
        <p id={errorId} className="error small">
          {fieldError}
        </p>
      )}
    </div>
  );
}
