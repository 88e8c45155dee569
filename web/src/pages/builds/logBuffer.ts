// A build's log as it arrives: an append-only list of lines kept outside React state (a
// 150,000-line log is not copied on every batch), with an index of each step's lines and of
// the collapsible groups its steps print (`::group::title` ... `::endgroup::`, GitHub Actions'
// markers).
import { plainText } from "./ansi";

export interface LogLineIn {
  text: string;
}

export const GROUP_START = "::group::";
export const GROUP_END = "::endgroup::";
// Groups nest (an inner `::group::` opens a section inside the open one, `::endgroup::` closes
// the innermost) up to this depth; deeper markers show as plain lines.
export const MAX_GROUP_DEPTH = 10;

/** A collapsible section of one step's lines: its header line, what it sits in, its size. */
export interface LogGroup {
  id: number;
  step: string | null;
  // The title: the header line's text after `::group::` (may hold colours).
  title: string;
  // The global index of the header line.
  line: number;
  // The group it sits in (-1: none) and how many groups that is.
  parent: number;
  depth: number;
  // Lines inside, so far: nested groups' headers and lines, not the `::endgroup::`s.
  size: number;
  // False until its `::endgroup::` came; a group never closed ends with its step's lines.
  closed: boolean;
}

// What a line is to the groups.
const PLAIN = 0;
const HEADER = 1;
const END = 2;

export class LogBuffer {
  readonly texts: string[] = [];
  readonly steps: (string | null)[] = [];
  readonly groups: LogGroup[] = [];
  // Changes on every clear: group ids of an earlier attempt's log mean nothing after.
  generation = 0;
  // Global line indexes per step, in order; the arrays grow in place.
  private readonly byStep = new Map<string, number[]>();
  private readonly plains: (string | undefined)[] = [];
  // Per line: PLAIN, HEADER or END; the innermost group it is in (-1: none), which for a
  // header is the group it sits in, not its own; and for a header its own group's id.
  private readonly kinds: number[] = [];
  private readonly groupOfLine: number[] = [];
  private readonly headers = new Map<number, number>();
  // Per step (null: lines of no step), the groups open now, innermost last; and how many
  // markers past MAX_GROUP_DEPTH are open (shown as plain lines, closed by plain lines).
  private readonly open = new Map<string | null, number[]>();
  private readonly tooDeep = new Map<string | null, number>();
  private markerCount = 0;

  get length(): number {
    return this.texts.length;
  }

  /** True once any line was a group marker: views without one need no folding at all. */
  get hasMarkers(): boolean {
    return this.markerCount > 0;
  }

  append(step: string | null, lines: readonly LogLineIn[]): void {
    let indexes: number[] | undefined;
    if (step !== null) {
      indexes = this.byStep.get(step);
      if (!indexes) {
        indexes = [];
        this.byStep.set(step, indexes);
      }
    }
    for (const line of lines) {
      // A line is one row on screen: a stray newline inside one makes more rows.
      const parts = line.text.includes("\n") ? line.text.replace(/\n$/, "").split("\n") : [line.text];
      for (const part of parts) {
        indexes?.push(this.texts.length);
        this.addGroupInfo(step, part);
        this.texts.push(part);
        this.steps.push(step);
      }
    }
  }

  private addGroupInfo(step: string | null, text: string): void {
    const index = this.texts.length;
    let stack = this.open.get(step);
    if (!stack) {
      stack = [];
      this.open.set(step, stack);
    }
    const innermost = stack.length > 0 ? stack[stack.length - 1]! : -1;
    const deeper = this.tooDeep.get(step) ?? 0;
    let kind = PLAIN;
    if (text.startsWith(GROUP_START)) {
      if (stack.length < MAX_GROUP_DEPTH) {
        kind = HEADER;
        const id = this.groups.length;
        this.groups.push({
          id,
          step,
          title: text.slice(GROUP_START.length).trim(),
          line: index,
          parent: innermost,
          depth: stack.length,
          size: 0,
          closed: false,
        });
        this.headers.set(index, id);
        for (const outer of stack) this.groups[outer]!.size++; // a header shows in its parents
        stack.push(id);
      } else {
        this.tooDeep.set(step, deeper + 1);
      }
    } else if (text.trimEnd() === GROUP_END) {
      if (deeper > 0) this.tooDeep.set(step, deeper - 1);
      else if (stack.length > 0) {
        kind = END;
        this.groups[stack.pop()!]!.closed = true;
      }
    }
    if (kind !== PLAIN) this.markerCount++;
    else for (const id of stack) this.groups[id]!.size++;
    this.kinds.push(kind);
    this.groupOfLine.push(innermost);
  }

  clear(): void {
    this.texts.length = 0;
    this.steps.length = 0;
    this.plains.length = 0;
    this.groups.length = 0;
    this.kinds.length = 0;
    this.groupOfLine.length = 0;
    this.headers.clear();
    this.open.clear();
    this.tooDeep.clear();
    this.markerCount = 0;
    this.generation++;
    // The step arrays stay (emptied): views hold them and see the new attempt's lines.
    for (const indexes of this.byStep.values()) indexes.length = 0;
  }

  /** The global indexes of a step's lines (a live array: it grows as lines arrive). */
  linesOf(step: string): readonly number[] {
    let indexes = this.byStep.get(step);
    if (!indexes) {
      indexes = [];
      this.byStep.set(step, indexes);
    }
    return indexes;
  }

  /** Steps that have lines, in the order their first line arrived. */
  stepNames(): string[] {
    return [...this.byStep].filter(([, lines]) => lines.length > 0).map(([name]) => name);
  }

  /** The group whose header line this is, if it is one. */
  headerOf(index: number): LogGroup | undefined {
    const id = this.headers.get(index);
    return id === undefined ? undefined : this.groups[id];
  }

  /** Whether the line is an `::endgroup::` that closed a group (never shown). */
  isGroupEnd(index: number): boolean {
    return this.kinds[index] === END;
  }

  /** The innermost group the line is in (for a header: the one it sits in), or -1. */
  groupOf(index: number): number {
    return this.groupOfLine[index] ?? -1;
  }

  /** How many groups the line sits in, for its indent. */
  depthOf(index: number): number {
    const group = this.groupOf(index);
    return group < 0 ? 0 : this.groups[group]!.depth + 1;
  }

  /** The text a line shows: a header shows its title. */
  shown(index: number): string {
    return this.headerOf(index)?.title ?? this.texts[index] ?? "";
  }

  /** A line's visible text (no escape codes; a header's title), computed once. */
  plain(index: number): string {
    let text = this.plains[index];
    if (text === undefined) {
      text = plainText(this.shown(index));
      this.plains[index] = text;
    }
    return text;
  }
}
