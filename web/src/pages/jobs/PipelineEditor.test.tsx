import { render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { useState } from "react";
import type { PipelineProblem } from "./jobForm";
import { lineRange, PipelineEditor, problemsByLine } from "./PipelineEditor";

const TEXT = "steps:\n  - name: build\n    commands: 42\n  - name: test\n";

function renderEditor(errors: PipelineProblem[], value = TEXT) {
  return render(<PipelineEditor id="p" label="Pipeline" value={value} onChange={() => {}} errors={errors} />);
}

describe("PipelineEditor", () => {
  it("numbers every line in the gutter", () => {
    renderEditor([]);
    const gutter = screen.getByTestId("pipeline-gutter");
    // TEXT ends with a newline: 5 lines, the last empty.
    expect(gutter.querySelectorAll("[data-line]")).toHaveLength(5);
    expect(gutter.querySelector("[data-error]")).toBeNull();
    expect(screen.queryByRole("list", { name: "Problems in the pipeline" })).toBeNull();
  });

  it("marks the lines that have problems, with the message as the marker's title", () => {
    renderEditor([
      { line: 3, column: 15, field: "steps[0].commands", message: "must be a string or a list" },
      { line: 4, column: 5, field: "steps[1]", message: "needs commands" },
    ]);
    const gutter = screen.getByTestId("pipeline-gutter");
    const marked = [...gutter.querySelectorAll("[data-error]")].map((el) => el.getAttribute("data-line"));
    expect(marked).toEqual(["3", "4"]);
    expect(screen.getByTitle(/Line 3, column 15: steps\[0\]\.commands: must be a string or a list/)).toBeInTheDocument();
    expect(screen.getByLabelText("Pipeline")).toHaveAttribute("aria-invalid", "true");
  });

  it("lists each problem naming its line", () => {
    renderEditor([
      { line: 3, column: 15, field: "steps[0].commands", message: "must be a string" },
      { line: null, column: null, field: "", message: "empty document" },
    ]);
    const list = screen.getByRole("list", { name: "Problems in the pipeline" });
    const items = within(list).getAllByRole("listitem");
    expect(items[0]).toHaveTextContent("Line 3, column 15: steps[0].commands: must be a string");
    expect(items[1]).toHaveTextContent("Whole pipeline: empty document");
    // Only a problem with a place can take you there.
    expect(within(list).getAllByRole("button")).toHaveLength(1);
  });

  it("counts a problem past the end on the last line", () => {
    renderEditor([{ line: 99, column: 1, field: "", message: "unexpected end" }], "a: 1\nb: 2");
    const marked = screen.getByTestId("pipeline-gutter").querySelectorAll("[data-error]");
    expect([...marked].map((el) => el.getAttribute("data-line"))).toEqual(["2"]);
  });

  it("jumps to the line of a listed problem: focus and the line selected", async () => {
    renderEditor([{ line: 3, column: 15, field: "steps[0].commands", message: "bad" }]);
    await userEvent.click(screen.getByRole("button", { name: /Line 3/ }));
    const area = screen.getByLabelText("Pipeline") as HTMLTextAreaElement;
    expect(area).toHaveFocus();
    expect(area.value.slice(area.selectionStart, area.selectionEnd)).toBe("    commands: 42");
  });

  it("passes typing up", async () => {
    function Harness() {
      const [value, setValue] = useState("");
      return <PipelineEditor id="p" label="Pipeline" value={value} onChange={setValue} errors={[]} />;
    }
    render(<Harness />);
    await userEvent.type(screen.getByLabelText("Pipeline"), "steps:");
    expect(screen.getByLabelText("Pipeline")).toHaveValue("steps:");
  });
});

describe("line helpers", () => {
  it("finds a line's start and end", () => {
    expect(lineRange("ab\ncd\nef", 1)).toEqual([0, 2]);
    expect(lineRange("ab\ncd\nef", 2)).toEqual([3, 5]);
    expect(lineRange("ab\ncd\nef", 3)).toEqual([6, 8]);
    expect(lineRange("ab\ncd", 9)).toEqual([3, 5]);
  });
  it("groups problems by line", () => {
    const p = (line: number | null): PipelineProblem => ({ line, column: null, field: "", message: "m" });
    const byLine = problemsByLine([p(1), p(1), p(null), p(7)], 3);
    expect(byLine.get(1)).toHaveLength(2);
    expect(byLine.get(3)).toHaveLength(1);
    expect(byLine.size).toBe(2);
  });
});
