// A build's log as it arrives: an append-only list of lines kept outside React state (a
// 150,000-line log is not copied on every batch), with an index of each step's lines.
import { plainText } from "./ansi";

export interface LogLineIn {
  text: string;
}

export class LogBuffer {
  readonly texts: string[] = [];
  readonly steps: (string | null)[] = [];
  // Global line indexes per step, in order; the arrays grow in place.
  private readonly byStep = new Map<string, number[]>();
  private readonly plains: (string | undefined)[] = [];

  get length(): number {
    return this.texts.length;
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
        this.texts.push(part);
        this.steps.push(step);
      }
    }
  }

  clear(): void {
    this.texts.length = 0;
    this.steps.length = 0;
    this.plains.length = 0;
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

  /** A line's visible text (no escape codes), computed once. */
  plain(index: number): string {
    let text = this.plains[index];
    if (text === undefined) {
      text = plainText(this.texts[index] ?? "");
      this.plains[index] = text;
    }
    return text;
  }
}
