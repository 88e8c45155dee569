// The log on screen: only the rows in view (and a few around them) are in the DOM, so a log of
// 150,000 lines scrolls like a short one. Rows have one fixed height; long lines scroll sideways.
import { observeElementRect, useVirtualizer } from "@tanstack/react-virtual";
import {
  useCallback,
  useImperativeHandle,
  useLayoutEffect,
  useRef,
  type CSSProperties,
  type MouseEvent,
  type ReactNode,
  type Ref,
} from "react";
import { AnsiLine } from "./ansi";
import type { LogGroup } from "./logBuffer";
import { markIndexInRow, type SearchResult } from "./logSearch";

export const ROW_HEIGHT = 20;

export interface LogViewHandle {
  scrollToRow(row: number): void;
}

/** The collapsible groups of the log (see LogBuffer): a header line shows its group's title
 * with a toggle; lines inside groups are indented. */
export interface LogGroupsView {
  headerOf(index: number): LogGroup | undefined;
  depthOf(index: number): number;
  isOpen(group: number): boolean;
  onToggle(group: number): void;
}

/** Each line's step, shown in a column before the text ("All steps" view). */
export interface LogStepColumn {
  stepOf: readonly (string | null)[];
  // Each step's colour (0..7); the column's width in characters.
  colours: ReadonlyMap<string, number>;
  width: number;
}

// Deeper groups are not indented further: the text must stay in view.
const MAX_INDENT = 8;

export interface LogViewProps {
  // Every line of the log; the array may grow in place (then `version` changes).
  lines: readonly string[];
  // The lines to show, as indexes into `lines` (a step's lines); all lines when absent.
  rows?: readonly number[];
  version: number;
  label: string;
  // A line number (1-based, of the whole log) to highlight.
  highlightLine?: number | null;
  search?: SearchResult;
  activeMatch?: number;
  // Keep the newest line in view as lines arrive.
  follow: boolean;
  // Called when the reader scrolls away from the end (false) or back to it (true).
  onFollowChange?: (follow: boolean) => void;
  onLineLink?: (lineNumber: number) => void;
  // The viewport size to assume before (or without) a real measurement, as in tests.
  initialRect?: { width: number; height: number };
  handleRef?: Ref<LogViewHandle>;
  empty?: ReactNode;
  groups?: LogGroupsView;
  stepColumn?: LogStepColumn;
}

export function LogView({
  lines,
  rows,
  version,
  label,
  highlightLine,
  search,
  activeMatch = -1,
  follow,
  onFollowChange,
  onLineLink,
  initialRect,
  handleRef,
  empty,
  groups,
  stepColumn,
}: LogViewProps) {
  const scrollRef = useRef<HTMLDivElement>(null);
  const count = rows ? rows.length : lines.length;
  const fallbackRect = initialRect;
  const virtualizer = useVirtualizer({
    count,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 15,
    initialRect,
    // A viewport that measures 0 (jsdom, a hidden tab) keeps the assumed size.
    observeElementRect: (instance, cb) =>
      observeElementRect(instance, (rect) =>
        cb(rect.height > 0 || !fallbackRect ? rect : fallbackRect),
      ),
  });
  // Scrolls this component made itself, so they do not count as the reader's.
  const programmatic = useRef(false);
  const lastTop = useRef(0);

  useImperativeHandle(
    handleRef,
    () => ({
      scrollToRow(row: number) {
        programmatic.current = true;
        virtualizer.scrollToIndex(row, { align: "center" });
      },
    }),
    [virtualizer],
  );

  useLayoutEffect(() => {
    const element = scrollRef.current;
    if (!follow || !element) return;
    programmatic.current = true;
    element.scrollTop = element.scrollHeight;
  }, [follow, version, count]);

  const onScroll = useCallback(() => {
    const element = scrollRef.current;
    if (!element) return;
    const top = element.scrollTop;
    const up = top < lastTop.current;
    lastTop.current = top;
    if (programmatic.current) {
      programmatic.current = false;
      return;
    }
    const atEnd = element.scrollHeight - top - element.clientHeight <= ROW_HEIGHT;
    if (follow && up && !atEnd) onFollowChange?.(false);
    else if (!follow && atEnd && !up && top > 0) onFollowChange?.(true);
  }, [follow, onFollowChange]);

  const onLinkClick = (event: MouseEvent<HTMLAnchorElement>, lineNumber: number) => {
    if (!onLineLink || event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) return;
    event.preventDefault();
    onLineLink(lineNumber);
  };

  const active = search?.matches[activeMatch];
  const activeMark = search && active ? markIndexInRow(search, activeMatch) : -1;
  const digits = String(Math.max(lines.length, 1)).length;
  const items = virtualizer.getVirtualItems();

  return (
    <div
      ref={scrollRef}
      className={count === 0 ? "log-view is-empty" : "log-view"}
      role="log"
      aria-label={label}
      aria-live="off"
      tabIndex={0}
      onScroll={onScroll}
      style={
        {
          "--ln-width": `${digits + 1}ch`,
          "--step-width": stepColumn ? `${stepColumn.width}ch` : undefined,
        } as CSSProperties
      }
      data-version={version}
    >
      {count === 0 ? (
        <div className="log-empty">{empty}</div>
      ) : (
        <div className="log-rows" style={{ height: virtualizer.getTotalSize() }}>
          {items.map((item) => {
            const index = rows ? rows[item.index]! : item.index;
            const lineNumber = index + 1;
            const marks = search?.byRow.get(item.index);
            const highlighted = lineNumber === highlightLine;
            const header = groups?.headerOf(index);
            const depth = Math.min(groups?.depthOf(index) ?? 0, MAX_INDENT);
            const step = stepColumn?.stepOf[index] ?? null;
            const text = (
              <AnsiLine
                text={header ? header.title : (lines[index] ?? "")}
                marks={marks}
                activeMark={active && active.row === item.index ? activeMark : undefined}
              />
            );
            let className = highlighted ? "log-row highlighted" : "log-row";
            if (header) className += " log-group-row";
            return (
              <div
                key={item.key}
                className={className}
                data-line={lineNumber}
                style={{ transform: `translateY(${item.start}px)` }}
              >
                <a
                  className="log-ln"
                  href={`#L${lineNumber}`}
                  tabIndex={-1}
                  aria-label={`Line ${lineNumber}`}
                  aria-current={highlighted ? "location" : undefined}
                  onClick={(event) => onLinkClick(event, lineNumber)}
                >
                  {lineNumber}
                </a>
                {stepColumn && (
                  <span
                    className={
                      step === null
                        ? "log-step"
                        : `log-step log-step-c${stepColumn.colours.get(step) ?? 0}`
                    }
                    title={step ?? undefined}
                  >
                    {step}
                  </span>
                )}
                <span
                  className="log-text"
                  style={depth > 0 ? { paddingLeft: `${0.75 + depth * 2}ch` } : undefined}
                >
                  {header && groups ? (
                    <button
                      type="button"
                      className="log-group"
                      aria-expanded={groups.isOpen(header.id)}
                      onClick={() => groups.onToggle(header.id)}
                    >
                      <span className="log-group-caret" aria-hidden="true">
                        {groups.isOpen(header.id) ? "▾" : "▸"}
                      </span>
                      {text}
                      <span className="log-group-size">
                        {" "}
                        {header.size === 1 ? "1 line" : `${header.size.toLocaleString()} lines`}
                      </span>
                    </button>
                  ) : (
                    text
                  )}
                </span>
              </div>
            );
          })}
        </div>
      )}
    </div>
  );
}
