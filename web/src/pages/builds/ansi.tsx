// One log line with its ANSI colours, as React elements: text stays text (React escapes it),
// colours become classes (the 16 basic ones, themed in builds.css) or a style property (256
// and true colours), never HTML strings. Logs are untrusted input.
import Anser from "anser";
import { memo, type CSSProperties, type ReactNode } from "react";

export interface AnsiSegment {
  text: string;
  className?: string;
  style?: CSSProperties;
}

// Operating system commands (hyperlinks, window titles): not shown.
const OSC = /\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)/g;
// Control sequences (colours, cursor moves, erase): what anser drops from the text.
const CSI = /\x1b\[[0-?]*[ -/]*[@-~]/g;
const ESCAPES = /[\x1b\r]/;

/** The line as a terminal would leave it: after a carriage return, what follows overwrites
 * what came before (a progress bar), so only the last part shows. */
export function normaliseLine(text: string): string {
  if (!ESCAPES.test(text)) return text;
  let line = text.replace(OSC, "");
  line = line.replace(/\r+$/, "");
  const cr = line.lastIndexOf("\r");
  if (cr >= 0) line = line.slice(cr + 1);
  return line;
}

/** The visible text of a line (what search runs on); the same characters as its segments. */
export function plainText(text: string): string {
  if (!ESCAPES.test(text)) return text;
  return normaliseLine(text).replace(CSI, "").replace(/\x1b/g, "");
}

const BASIC = /^ansi-(bright-)?(black|red|green|yellow|blue|magenta|cyan|white)$/;
const BASIC_NAMES = ["black", "red", "green", "yellow", "blue", "magenta", "cyan", "white"];
const CUBE = [0, 95, 135, 175, 215, 255];

/** The xterm 256-colour palette: 0-15 the basic colours (as classes), then a 6x6x6 cube and
 * a grey ramp. */
export function paletteColour(index: number): { className: string } | { rgb: string } {
  if (index < 16) {
    const name = BASIC_NAMES[index % 8]!;
    return { className: index < 8 ? `ansi-${name}` : `ansi-bright-${name}` };
  }
  if (index < 232) {
    const n = index - 16;
    const r = CUBE[Math.floor(n / 36)]!;
    const g = CUBE[Math.floor(n / 6) % 6]!;
    const b = CUBE[n % 6]!;
    return { rgb: `rgb(${r}, ${g}, ${b})` };
  }
  const grey = 8 + (index - 232) * 10;
  return { rgb: `rgb(${grey}, ${grey}, ${grey})` };
}

function colour(
  value: string | null | undefined,
  truecolor: string | null | undefined,
  layer: "fg" | "bg",
  classes: string[],
  style: CSSProperties,
): void {
  if (!value) return;
  const property = layer === "fg" ? "color" : "backgroundColor";
  if (BASIC.test(value)) {
    classes.push(`${value}-${layer}`);
  } else if (value.startsWith("ansi-palette-")) {
    const found = paletteColour(Number(value.slice("ansi-palette-".length)));
    if ("className" in found) classes.push(`${found.className}-${layer}`);
    else style[property] = found.rgb;
  } else if (value === "ansi-truecolor" && truecolor && /^[\d, ]+$/.test(truecolor)) {
    style[property] = `rgb(${truecolor})`;
  }
}

const DECORATIONS: Record<string, string> = {
  bold: "ansi-bold",
  dim: "ansi-dim",
  italic: "ansi-italic",
  underline: "ansi-underline",
  strikethrough: "ansi-strikethrough",
  hidden: "ansi-hidden",
};

/** A line's coloured segments. */
export function parseAnsi(text: string): AnsiSegment[] {
  const line = normaliseLine(text);
  if (!/\x1b/.test(line)) return line ? [{ text: line }] : [];
  const entries = Anser.ansiToJson(line, { use_classes: true, remove_empty: true });
  const segments: AnsiSegment[] = [];
  for (const entry of entries) {
    // Anything anser left of an escape sequence is not text to show.
    const content = entry.content.replace(CSI, "").replace(/\x1b/g, "");
    if (!content) continue;
    const classes: string[] = [];
    const style: CSSProperties = {};
    colour(entry.fg, entry.fg_truecolor, "fg", classes, style);
    colour(entry.bg, entry.bg_truecolor, "bg", classes, style);
    for (const decoration of entry.decorations ?? []) {
      const cls = DECORATIONS[decoration];
      if (cls && !classes.includes(cls)) classes.push(cls);
    }
    const segment: AnsiSegment = { text: content };
    if (classes.length) segment.className = classes.join(" ");
    if (Object.keys(style).length) segment.style = style;
    segments.push(segment);
  }
  return segments;
}

// Visible lines are parsed when shown; the same text (repeated lines, scrolling back) is
// parsed once. Bounded: a long log scrolled end to end does not keep every line's parse.
const CACHE_LIMIT = 5000;
const cache = new Map<string, AnsiSegment[]>();

export function cachedParseAnsi(text: string): AnsiSegment[] {
  let segments = cache.get(text);
  if (!segments) {
    segments = parseAnsi(text);
    if (cache.size >= CACHE_LIMIT) cache.clear();
    cache.set(text, segments);
  }
  return segments;
}

/** A highlighted range of a line's visible text, [start, end). */
export type Mark = readonly [number, number];

interface AnsiLineProps {
  text: string;
  // Search matches in this line, sorted, not overlapping.
  marks?: readonly Mark[];
  // Index into `marks` of the current match, if it is in this line.
  activeMark?: number;
}

/** Splits each segment where a mark starts or ends, wrapping marked parts in <mark>. */
function renderSegments(segments: AnsiSegment[], marks: readonly Mark[], activeMark?: number) {
  const out: ReactNode[] = [];
  let offset = 0;
  let m = 0;
  segments.forEach((segment, s) => {
    const end = offset + segment.text.length;
    let at = offset;
    const parts: ReactNode[] = [];
    while (at < end) {
      while (m < marks.length && marks[m]![1] <= at) m++;
      const mark = marks[m];
      if (!mark || mark[0] >= end) {
        parts.push(segment.text.slice(at - offset));
        at = end;
      } else if (mark[0] > at) {
        parts.push(segment.text.slice(at - offset, mark[0] - offset));
        at = mark[0];
      } else {
        const stop = Math.min(mark[1], end);
        parts.push(
          <mark key={at} className={m === activeMark ? "log-match active" : "log-match"}>
            {segment.text.slice(at - offset, stop - offset)}
          </mark>,
        );
        at = stop;
      }
    }
    out.push(
      segment.className || segment.style ? (
        <span key={s} className={segment.className} style={segment.style}>
          {parts}
        </span>
      ) : (
        <span key={s}>{parts}</span>
      ),
    );
    offset = end;
  });
  return out;
}

export const AnsiLine = memo(function AnsiLine({ text, marks, activeMark }: AnsiLineProps) {
  const segments = cachedParseAnsi(text);
  if (!marks || marks.length === 0) {
    return (
      <>
        {segments.map((segment, i) =>
          segment.className || segment.style ? (
            <span key={i} className={segment.className} style={segment.style}>
              {segment.text}
            </span>
          ) : (
            segment.text
          ),
        )}
      </>
    );
  }
  return <>{renderSegments(segments, marks, activeMark)}</>;
});
