import { LogBuffer } from "./logBuffer";
import { lineFromHash } from "./BuildLogPanel";

describe("LogBuffer", () => {
  it("keeps lines in order with an index per step", () => {
    const buffer = new LogBuffer();
    buffer.append(null, [{ text: "cloning" }]);
    buffer.append("build", [{ text: "a" }, { text: "b" }]);
    buffer.append("test", [{ text: "c" }]);
    buffer.append("build", [{ text: "d\ne\n" }]);
    expect(buffer.texts).toEqual(["cloning", "a", "b", "c", "d", "e"]);
    expect(buffer.linesOf("build")).toEqual([1, 2, 4, 5]);
    expect(buffer.linesOf("test")).toEqual([3]);
    expect(buffer.stepNames()).toEqual(["build", "test"]);
  });

  it("keeps a step's index array live across a reset", () => {
    const buffer = new LogBuffer();
    const build = buffer.linesOf("build");
    buffer.append("build", [{ text: "old" }]);
    buffer.clear();
    expect(buffer.length).toBe(0);
    expect(build).toEqual([]);
    buffer.append("build", [{ text: "new" }]);
    expect(build).toEqual([0]);
    expect(buffer.plain(0)).toBe("new");
  });

  it("gives each line's visible text", () => {
    const buffer = new LogBuffer();
    buffer.append("s", [{ text: "\x1b[31mred\x1b[0m" }]);
    expect(buffer.plain(0)).toBe("red");
  });
});

describe("lineFromHash", () => {
  it("reads #L<n>", () => {
    expect(lineFromHash("#L42")).toBe(42);
    expect(lineFromHash("#L0")).toBeNull();
    expect(lineFromHash("#top")).toBeNull();
    expect(lineFromHash("")).toBeNull();
  });
});
