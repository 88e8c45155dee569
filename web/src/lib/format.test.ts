import { describe, expect, it } from "vitest";
import { formatElapsed } from "./format";

describe("formatElapsed", () => {
  it("ticks in whole seconds", () => {
    expect(formatElapsed(3.7)).toBe("3 s");
    expect(formatElapsed(59.9)).toBe("59 s");
    expect(formatElapsed(125)).toBe("2m 5s");
    expect(formatElapsed(null)).toBe("–");
  });
});
