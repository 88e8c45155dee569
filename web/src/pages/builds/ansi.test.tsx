import { render } from "@testing-library/react";
import { AnsiLine, paletteColour, parseAnsi, plainText } from "./ansi";

const ESC = "\x1b";

describe("AnsiLine", () => {
  it("turns basic colours into spans with classes, and resets back to plain text", () => {
    const { container } = render(<AnsiLine text={`${ESC}[32mline 1${ESC}[0m done`} />);
    const green = container.querySelector("span.ansi-green-fg");
    expect(green).toHaveTextContent("line 1");
    expect(container.textContent).toBe("line 1 done");
    expect(container.querySelectorAll("span")).toHaveLength(1);
  });

  it("renders bright, background, bold and 256/true colours", () => {
    const { container } = render(
      <AnsiLine
        text={`${ESC}[1;91;44mA${ESC}[0m${ESC}[38;5;208mB${ESC}[38;2;10;20;30mC${ESC}[38;5;244mD`}
      />,
    );
    const a = container.querySelector("span.ansi-bright-red-fg")!;
    expect(a).toHaveClass("ansi-blue-bg", "ansi-bold");
    expect(a).toHaveTextContent("A");
    const spans = [...container.querySelectorAll("span")];
    const b = spans.find((s) => s.textContent === "B")!;
    expect(b.style.color).toBe("rgb(255, 135, 0)");
    const c = spans.find((s) => s.textContent === "C")!;
    expect(c.style.color).toBe("rgb(10, 20, 30)");
    const d = spans.find((s) => s.textContent === "D")!;
    expect(d.style.color).toBe("rgb(128, 128, 128)");
  });

  it("keeps < > & and markup-like text as text, never as HTML", () => {
    const evil = `${ESC}[31m<img src=x onerror=alert(1)> & <b>bold</b>${ESC}[0m "quoted"`;
    const { container } = render(<AnsiLine text={evil} />);
    expect(container.querySelector("img")).toBeNull();
    expect(container.querySelector("b")).toBeNull();
    expect(container.textContent).toBe('<img src=x onerror=alert(1)> & <b>bold</b> "quoted"');
    expect(container.querySelector("span.ansi-red-fg")).toHaveTextContent("<img src=x onerror=alert(1)> & <b>bold</b>");
  });

  it("shows plain lines without wrapper elements", () => {
    const { container } = render(<AnsiLine text="just text <ok>" />);
    expect(container.innerHTML).toBe("just text &lt;ok&gt;");
  });

  it("marks search matches across colour boundaries, the current one apart", () => {
    const { container } = render(
      <AnsiLine
        text={`ab${ESC}[32mcd${ESC}[0mef cd`}
        marks={[
          [1, 3],
          [7, 9],
        ]}
        activeMark={1}
      />,
    );
    const marks = [...container.querySelectorAll("mark")];
    expect(marks.map((m) => m.textContent)).toEqual(["b", "c", "cd"]);
    expect(marks[1]!.closest("span")).toHaveClass("ansi-green-fg");
    expect(marks[2]).toHaveClass("active");
    expect(marks[0]).not.toHaveClass("active");
    expect(container.textContent).toBe("abcdef cd");
  });

  it("shows what a carriage return left and drops cursor and hyperlink codes", () => {
    expect(plainText("progress 10%\rprogress 100%\r")).toBe("progress 100%");
    expect(plainText(`${ESC}[2K${ESC}[1Gdone`)).toBe("done");
    expect(plainText(`${ESC}]8;;https://example.com${ESC}\\link${ESC}]8;;${ESC}\\`)).toBe("link");
  });
});

describe("parseAnsi and plainText", () => {
  it("agree on the visible text, so search offsets match what is drawn", () => {
    const samples = [
      `${ESC}[1;32m✓${ESC}[0m test passed ${ESC}[90m(12 ms)${ESC}[39m`,
      `${ESC}[38;5;196merror${ESC}[m: ${ESC}[4mfile.ts${ESC}[24m:3`,
      `a\r${ESC}[Kb`,
      "no colour at all",
    ];
    for (const sample of samples) {
      expect(parseAnsi(sample).map((s) => s.text).join("")).toBe(plainText(sample));
    }
  });

  it("maps the 256-colour palette", () => {
    expect(paletteColour(1)).toEqual({ className: "ansi-red" });
    expect(paletteColour(12)).toEqual({ className: "ansi-bright-blue" });
    expect(paletteColour(16)).toEqual({ rgb: "rgb(0, 0, 0)" });
    expect(paletteColour(231)).toEqual({ rgb: "rgb(255, 255, 255)" });
    expect(paletteColour(232)).toEqual({ rgb: "rgb(8, 8, 8)" });
  });
});
