import { describe, expect, it } from "vitest";
import { accessOf, formatUntil, scopesFor, tokenState } from "./tokenFormat";

const NOW = Date.parse("2025-06-01T12:00:00Z");

describe("tokenState", () => {
  it("is revoked before anything else, then expired, else active", () => {
    expect(tokenState({ revoked: true, revoked_at: "2025-05-01T00:00:00Z", expires_at: "2026-01-01T00:00:00Z" }, NOW)).toBe("revoked");
    expect(tokenState({ revoked: false, revoked_at: null, expires_at: "2025-06-01T11:59:59Z" }, NOW)).toBe("expired");
    expect(tokenState({ revoked: false, revoked_at: null, expires_at: "2025-06-02T00:00:00Z" }, NOW)).toBe("active");
    expect(tokenState({ revoked: false, revoked_at: null, expires_at: null }, NOW)).toBe("active");
  });
});

describe("formatUntil", () => {
  it("reads ahead in minutes, hours or days", () => {
    expect(formatUntil("2025-06-01T12:10:00Z", NOW)).toBe("in 10 min");
    expect(formatUntil("2025-06-01T13:00:00Z", NOW)).toBe("in 1 hour");
    expect(formatUntil("2025-07-01T12:00:00Z", NOW)).toBe("in 30 days");
    expect(formatUntil("2025-05-31T12:00:00Z", NOW)).toBe("expired");
    expect(formatUntil(null, NOW)).toBe("never");
  });
});

describe("scopes", () => {
  it("maps an access level to the scopes the API takes, and back", () => {
    expect(scopesFor("read")).toEqual(["read"]);
    expect(scopesFor("write")).toEqual(["read", "write"]);
    expect(scopesFor("admin")).toEqual(["read", "write", "admin"]);
    expect(accessOf(["read", "write"])).toBe("write");
    expect(accessOf(["read", "write", "admin"])).toBe("admin");
  });
});
