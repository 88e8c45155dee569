import { fireEvent, render, screen } from "@testing-library/react";
import { LogBuffer } from "./logBuffer";
import { stepColours, visibleRows } from "./logGroups";
import { LogView } from "./LogView";
import { searchLines } from "./logSearch";

const RECT = { width: 1000, height: 600 };
const bigLog = Array.from({ length: 150_000 }, (_, i) => `\x1b[32mline ${i + 1}\x1b[0m`);

describe("LogView", () => {
  it("keeps only the rows in view in the DOM for a 150,000-line log", () => {
    const started = performance.now();
    render(<LogView lines={bigLog} version={1} label="Build log" follow={false} initialRect={RECT} />);
    const log = screen.getByRole("log", { name: "Build log" });
    expect(log).toHaveAttribute("tabindex", "0");
    const rows = log.querySelectorAll(".log-row");
    expect(rows.length).toBeGreaterThan(10);
    expect(rows.length).toBeLessThan(100);
    expect(rows[0]).toHaveTextContent("1line 1");
    expect(rows[0]!.querySelector(".ansi-green-fg")).toHaveTextContent("line 1");
    // The scroll area is as tall as all lines.
    expect((log.firstElementChild as HTMLElement).style.height).toBe(`${150_000 * 20}px`);
    expect(performance.now() - started).toBeLessThan(5000);
  });

  it("shows a step's lines with their numbers in the whole log, and links each line", () => {
    const onLineLink = vi.fn();
    const lines = ["setup", "step a 1", "other", "step a 2"];
    render(
      <LogView
        lines={lines}
        rows={[1, 3]}
        version={1}
        label="Log of step a"
        follow={false}
        initialRect={RECT}
        highlightLine={4}
        onLineLink={onLineLink}
      />,
    );
    const links = screen.getAllByRole("link");
    expect(links.map((a) => a.getAttribute("href"))).toEqual(["#L2", "#L4"]);
    expect(links[1]).toHaveAttribute("aria-current", "location");
    expect(links[1]!.closest(".log-row")).toHaveClass("highlighted");
    fireEvent.click(links[0]!);
    expect(onLineLink).toHaveBeenCalledWith(2);
    expect(screen.getByRole("log")).not.toHaveTextContent("setup");
  });

  it("highlights search matches", () => {
    const lines = ["error: one", "fine", "another error"];
    const search = searchLines(3, (r) => lines[r]!, "error");
    const { container } = render(
      <LogView
        lines={lines}
        version={1}
        label="Build log"
        follow={false}
        initialRect={RECT}
        search={search}
        activeMatch={1}
      />,
    );
    const marks = container.querySelectorAll("mark");
    expect(marks).toHaveLength(2);
    expect(marks[1]).toHaveClass("active");
    expect(marks[0]).not.toHaveClass("active");
  });

  it("says so when there are no lines", () => {
    render(
      <LogView lines={[]} version={0} label="Build log" follow initialRect={RECT} empty="No output yet." />,
    );
    expect(screen.getByRole("log")).toHaveTextContent("No output yet.");
  });

  it("tags each line with its step and shows a group as a title that toggles", () => {
    const buffer = new LogBuffer();
    buffer.append(null, [{ text: "agent: cloning" }]);
    buffer.append("lint", [{ text: "::group::\x1b[1mInstall\x1b[0m" }, { text: "pip install ruff" }]);
    buffer.append("test (PY=3.11)", [{ text: "collected 3 items" }]);
    buffer.append("lint", [{ text: "done" }, { text: "::endgroup::" }, { text: "ok" }]);
    const onToggle = vi.fn();
    const groups = {
      headerOf: (i: number) => buffer.headerOf(i),
      depthOf: (i: number) => buffer.depthOf(i),
      isOpen: () => false,
      onToggle,
    };
    const colours = stepColours(["lint", "test (PY=3.11)"]);
    render(
      <LogView
        lines={buffer.texts}
        rows={visibleRows(buffer, undefined, () => false)}
        version={1}
        label="Build log"
        follow={false}
        initialRect={RECT}
        groups={groups}
        stepColumn={{ stepOf: buffer.steps, colours, width: 14 }}
      />,
    );
    const rows = [...screen.getByRole("log").querySelectorAll(".log-row")];
    const cells = rows.map((row) => [
      row.getAttribute("data-line"),
      row.querySelector(".log-step")?.textContent,
      row.querySelector(".log-text")?.textContent,
    ]);
    expect(cells).toEqual([
      ["1", "", "agent: cloning"],
      ["2", "lint", "▸Install 2 lines"],
      ["4", "test (PY=3.11)", "collected 3 items"],
      ["7", "lint", "ok"],
    ]);
    expect(rows[1]!.querySelector(".log-step")).toHaveClass("log-step-c0");
    expect(rows[2]!.querySelector(".log-step")).toHaveClass("log-step-c1");
    expect(rows[2]!.querySelector(".log-step")).toHaveAttribute("title", "test (PY=3.11)");
    const toggle = screen.getByRole("button", { name: /Install/ });
    expect(toggle).toHaveAttribute("aria-expanded", "false");
    expect(toggle.querySelector(".ansi-bold")).toHaveTextContent("Install");
    fireEvent.click(toggle);
    expect(onToggle).toHaveBeenCalledWith(0);
  });
});
