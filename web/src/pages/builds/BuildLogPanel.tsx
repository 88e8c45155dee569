// The live log of a build: step selector, search, follow, raw download, and the virtualised
// view. A line's link (#L<n>) highlights it and scrolls it into view on load.
import { useCallback, useEffect, useId, useMemo, useRef, useState } from "react";
import { useLocation, useNavigate } from "react-router";
import { errorText } from "../../api/client";
import { downloadWithAuth } from "./buildInfo";
import { LogView, type LogGroupsView, type LogStepColumn, type LogViewHandle } from "./LogView";
import {
  groupsHolding,
  lineAt,
  remapSearch,
  rowOf,
  stepColours,
  visibleRows,
} from "./logGroups";
import { firstMatchFrom, searchLines, stepMatch, EMPTY_SEARCH } from "./logSearch";
import { useBuildLog, type LogStreamState } from "./useBuildLog";

interface BuildLogPanelProps {
  buildId: string;
  // Step names in position order (the build's planned steps).
  steps: readonly string[];
  selectedStep: string | null;
  onSelectStep: (step: string | null, keepHash?: boolean) => void;
  live: boolean;
  downloadName: string;
  onBuildChanged: () => void;
}

const NO_GROUPS: ReadonlySet<number> = new Set();
// The step column is as wide as the longest step name, up to this (longer names are cut,
// and shown whole on hover).
const MAX_STEP_WIDTH = 24;

const STATE_TEXT: Record<LogStreamState, string> = {
  connecting: "Connecting…",
  live: "Live",
  reconnecting: "Reconnecting…",
  ended: "Complete",
  failed: "Stopped",
};

export function lineFromHash(hash: string): number | null {
  const match = /^#L(\d+)$/.exec(hash);
  if (!match) return null;
  const line = Number(match[1]);
  return line >= 1 ? line : null;
}

/** Re-render at most every `ms` while `value` keeps changing (search over a growing log). */
function useThrottled<T>(value: T, ms: number): T {
  const [current, setCurrent] = useState(value);
  const last = useRef(0);
  useEffect(() => {
    const wait = Math.max(0, last.current + ms - Date.now());
    const timer = window.setTimeout(() => {
      last.current = Date.now();
      setCurrent(value);
    }, wait);
    return () => window.clearTimeout(timer);
  }, [value, ms]);
  return current;
}

export function BuildLogPanel({
  buildId,
  steps,
  selectedStep,
  onSelectStep,
  live,
  downloadName,
  onBuildChanged,
}: BuildLogPanelProps) {
  const log = useBuildLog(buildId, onBuildChanged);
  const { buffer, version } = log;
  const location = useLocation();
  const navigate = useNavigate();
  const target = lineFromHash(location.hash);
  const view = useRef<LogViewHandle>(null);
  const [follow, setFollow] = useState(() => live && target === null);
  const searchId = useId();

  // Lines of the selected step (a live array), or all lines.
  const rows = useMemo(
    () => (selectedStep ? buffer.linesOf(selectedStep) : undefined),
    [buffer, selectedStep],
  );
  const rowCount = rows ? rows.length : buffer.length;

  // Steps that have lines but were not planned (a log from an older plan) still get a tab.
  const stepTabs = useMemo(() => {
    const names = [...steps];
    for (const name of buffer.stepNames()) if (!names.includes(name)) names.push(name);
    return names;
    // `version`: a step whose first line just arrived gets its tab.
  }, [steps, buffer, version]);

  // Each line's step, in a column, when the lines of all steps show together.
  const stepColumn = useMemo<LogStepColumn | undefined>(
    () =>
      selectedStep
        ? undefined
        : {
            stepOf: buffer.steps,
            colours: stepColours(stepTabs),
            width: Math.min(MAX_STEP_WIDTH, Math.max(4, ...stepTabs.map((name) => name.length))),
          },
    [selectedStep, buffer, stepTabs],
  );

  // --- groups: collapsed until opened; those holding a search match or the linked line open
  const [expanded, setExpanded] = useState(() => ({ generation: -1, ids: NO_GROUPS }));
  const openIds = expanded.generation === buffer.generation ? expanded.ids : NO_GROUPS;
  const toggleGroup = useCallback(
    (id: number) =>
      setExpanded((current) => {
        const ids = new Set(current.generation === buffer.generation ? current.ids : []);
        if (ids.has(id)) ids.delete(id);
        else ids.add(id);
        return { generation: buffer.generation, ids };
      }),
    [buffer],
  );

  // --- search --------------------------------------------------------------------------
  const [query, setQuery] = useState("");
  const [caseSensitive, setCaseSensitive] = useState(false);
  const searchedQuery = useThrottled(query, 200);
  const searchedVersion = useThrottled(version, 750);
  // The search runs over every line of the view, folded or not (not the `::endgroup::`s).
  const searchedRows = useMemo(
    () => visibleRows(buffer, rows, () => true),
    // searchedVersion: the buffer grew (or was reset) since.
    [buffer, rows, searchedVersion],
  );
  const found = useMemo(
    () =>
      searchedQuery
        ? searchLines(
            searchedRows ? searchedRows.length : buffer.length,
            (row) => buffer.plain(lineAt(searchedRows, row)),
            searchedQuery,
            { caseSensitive },
          )
        : EMPTY_SEARCH,
    [searchedQuery, caseSensitive, searchedRows, buffer],
  );
  const forcedOpen = useMemo(() => {
    const lines = found.matches.map((match) => lineAt(searchedRows, match.row));
    if (target !== null) lines.push(target - 1);
    return lines.length > 0 ? groupsHolding(buffer, lines) : NO_GROUPS;
    // version: the linked line may have just arrived.
  }, [found, searchedRows, target, buffer, version]);
  const isOpen = useCallback(
    (id: number) => openIds.has(id) || forcedOpen.has(id),
    [openIds, forcedOpen],
  );
  // The rows on screen: the view's lines without those of closed groups.
  const shownRows = useMemo(
    () => visibleRows(buffer, rows, isOpen),
    // version: lines arrived.
    [buffer, rows, isOpen, version],
  );
  const search = useMemo(
    () => remapSearch(found, searchedRows, shownRows),
    [found, searchedRows, shownRows],
  );
  const groups = useMemo<LogGroupsView | undefined>(
    () =>
      buffer.hasMarkers
        ? {
            headerOf: (index) => buffer.headerOf(index),
            depthOf: (index) => buffer.depthOf(index),
            isOpen,
            onToggle: toggleGroup,
          }
        : undefined,
    // version: the first marker may have just arrived.
    [buffer, isOpen, toggleGroup, version],
  );
  // --- jump to #L<n> once that line has arrived ---------------------------------------
  const jumped = useRef<number | null>(null);
  useEffect(() => {
    if (target === null || jumped.current === target || buffer.length < target) return;
    const index = target - 1;
    if (selectedStep && buffer.steps[index] !== selectedStep) {
      onSelectStep(null, true); // the line is not in this step's log: show the whole log
      return;
    }
    const row = rowOf(shownRows, index);
    if (row < 0) return;
    jumped.current = target;
    setFollow(false);
    // After the view has rendered the rows (a step switch re-renders first).
    window.requestAnimationFrame(() => view.current?.scrollToRow(row));
  }, [target, version, shownRows, buffer, selectedStep, onSelectStep]);

  const onLineLink = useCallback(
    (line: number) => {
      jumped.current = line; // clicked in view: highlight, no scroll
      setFollow(false);
      void navigate({ search: location.search, hash: `L${line}` }, { replace: true });
    },
    [navigate, location.search],
  );

  const [active, setActive] = useState(-1);
  const count = search.matches.length;
  const activeIndex = active < count ? active : -1;

  const goTo = useCallback(
    (index: number) => {
      const match = search.matches[index];
      if (!match) return;
      setActive(index);
      setFollow(false);
      view.current?.scrollToRow(match.row);
    },
    [search],
  );
  // A new query (or step) starts at its first match.
  const lastSearch = useRef<unknown>(null);
  useEffect(() => {
    const key = `${searchedQuery}\u0000${caseSensitive}\u0000${selectedStep}`;
    if (lastSearch.current === key) return;
    lastSearch.current = key;
    if (count > 0) goTo(firstMatchFrom(search.matches, 0));
    else setActive(-1);
  }, [searchedQuery, caseSensitive, selectedStep, count, search, goTo]);

  // Another step's log (picked here or in the graph) starts at its top, unless the view
  // follows the end, or a line link or a search match is about to be scrolled to.
  const shownStep = useRef(selectedStep);
  useEffect(() => {
    if (shownStep.current === selectedStep) return;
    shownStep.current = selectedStep;
    if (follow || target !== null || count > 0) return;
    window.requestAnimationFrame(() => view.current?.scrollToRow(0));
  }, [selectedStep, follow, target, count]);

  const stepSearch = (direction: 1 | -1) => goTo(stepMatch(activeIndex, count, direction));

  // --- raw download ---------------------------------------------------------------------
  const [downloadError, setDownloadError] = useState<string | null>(null);
  const [downloading, setDownloading] = useState(false);
  const downloadRaw = async () => {
    setDownloadError(null);
    setDownloading(true);
    try {
      await downloadWithAuth(
        `/api/v1/builds/${encodeURIComponent(buildId)}/logs?format=text`,
        downloadName,
      );
    } catch (err) {
      setDownloadError(`Download failed: ${errorText(err)}`);
    } finally {
      setDownloading(false);
    }
  };

  const matchText =
    count === 0
      ? searchedQuery
        ? "No matches"
        : ""
      : `${activeIndex + 1} of ${count}${search.truncated ? "+" : ""}`;

  return (
    <div className="build-log">
      <div className="log-steps" role="group" aria-label="Show the log of">
        <button
          type="button"
          className="button secondary"
          aria-pressed={selectedStep === null}
          onClick={() => onSelectStep(null)}
        >
          All steps
        </button>
        {stepTabs.map((name) => (
          <button
            key={name}
            type="button"
            className="button secondary"
            aria-pressed={selectedStep === name}
            onClick={() => onSelectStep(name)}
          >
            {name}
          </button>
        ))}
      </div>

      <div className="log-toolbar">
        <form
          className="log-search"
          role="search"
          onSubmit={(event) => {
            event.preventDefault();
            stepSearch(1);
          }}
        >
          <label htmlFor={searchId} className="visually-hidden">
            Search the log
          </label>
          <input
            id={searchId}
            type="search"
            placeholder="Search the log"
            value={query}
            onChange={(event) => setQuery(event.target.value)}
            onKeyDown={(event) => {
              if (event.key === "Enter" && event.shiftKey) {
                event.preventDefault();
                stepSearch(-1);
              }
            }}
          />
          <button
            type="button"
            className="button secondary"
            onClick={() => stepSearch(-1)}
            disabled={count === 0}
            aria-label="Previous match"
            title="Previous match (Shift+Enter)"
          >
            ↑
          </button>
          <button
            type="submit"
            className="button secondary"
            disabled={count === 0}
            aria-label="Next match"
            title="Next match (Enter)"
          >
            ↓
          </button>
          <label className="checkbox log-case">
            <input
              type="checkbox"
              checked={caseSensitive}
              onChange={(event) => setCaseSensitive(event.target.checked)}
            />
            Aa<span className="visually-hidden"> match case</span>
          </label>
          <span className="muted small log-count" role="status" aria-live="polite">
            {matchText}
          </span>
        </form>
        <div className="spacer" />
        <span className={`muted small log-state log-state-${log.state}`} role="status">
          {STATE_TEXT[log.state]} · {rowCount.toLocaleString()} lines
        </span>
        <button
          type="button"
          className="button secondary"
          aria-pressed={follow}
          onClick={() => setFollow((f) => !f)}
          title="Keep the newest line in view"
        >
          {follow ? "Following" : "Follow"}
        </button>
        <button
          type="button"
          className="button secondary"
          onClick={downloadRaw}
          disabled={downloading}
        >
          {downloading ? "Downloading…" : "Download raw"}
        </button>
      </div>
      {downloadError && (
        <p className="error" role="alert">
          {downloadError}
        </p>
      )}
      {log.error && (
        <p className="error" role="alert">
          The live log stopped: {log.error}
        </p>
      )}

      <LogView
        handleRef={view}
        lines={buffer.texts}
        rows={shownRows}
        version={version}
        groups={groups}
        stepColumn={stepColumn}
        label={selectedStep ? `Log of step ${selectedStep}` : "Build log"}
        highlightLine={target}
        search={search}
        activeMatch={activeIndex}
        follow={follow}
        onFollowChange={live ? setFollow : (f) => !f && setFollow(false)}
        onLineLink={onLineLink}
        empty={
          log.state === "connecting"
            ? "Loading the log…"
            : selectedStep
              ? `No output from ${selectedStep} yet.`
              : live
                ? "No output yet: lines appear here as the build runs."
                : "This build wrote no log."
        }
      />
    </div>
  );
}
