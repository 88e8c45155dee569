import { describe, expect, it } from "vitest";
import { formatElapsed, formatUntil } from "./format";

describe("formatElapsed", () => {
  it("ticks in whole seconds", () => {
    expect(formatElapsed(3.7)).toBe("3 s");
    expect(formatElapsed(59.9)).toBe("59 s");
    expect(formatElapsed(125)).toBe("2m 5s");
    expect(formatElapsed(null)).toBe("–");
  });
});

describe("formatUntil", () => {
  const now = Date.parse("2030-01-01T12:00:00Z");
  it("counts down to a time ahead", () => {
    expect(formatUntil("2030-01-01T12:00:30Z", now)).toBe("in 30s");
    expect(formatUntil("2030-01-01T12:05:00Z", now)).toBe("in 5m");
    expect(formatUntil("2030-01-01T15:30:00Z", now)).toBe("in 3h 30m");
    expect(formatUntil("2030-01-03T12:00:00Z", now)).toBe("in 2d");
  });
  it("says due for a time passed", () => {
    expect(formatUntil("2030-01-01T11:59:00Z", now)).toBe("due");
  });
});
