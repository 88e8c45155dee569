import { describe, expect, it } from "vitest";
import { fieldErrorsFrom, hasErrors, passwordProblem, usernameProblem, validateNewUser } from "./validation";

const ok = { username: "alice", role: "developer" as const, password: "correct horse", confirm: "correct horse" };

describe("validateNewUser", () => {
  it("accepts a valid user", () => {
    expect(validateNewUser(ok)).toEqual({});
    expect(hasErrors(validateNewUser(ok))).toBe(false);
  });

  it("follows the server's username rules", () => {
    expect(usernameProblem("")).toMatch(/enter a username/i);
    expect(usernameProblem("bob smith")).toMatch(/spaces/i);
    expect(usernameProblem(".bob")).toMatch(/starting with a letter or digit/i);
    expect(usernameProblem("bob/x")).toMatch(/letters, digits/i);
    expect(usernameProblem("a".repeat(201))).toMatch(/at most 200/);
    expect(usernameProblem("ci-bot+eu@example.org")).toBeNull();
    // Surrounding spaces are trimmed before sending.
    expect(validateNewUser({ ...ok, username: "  alice " })).toEqual({});
  });

  it("needs at least 8 characters, counted as the server counts them", () => {
    expect(passwordProblem("")).toMatch(/enter a password/i);
    expect(passwordProblem("short")).toMatch(/too short: 5 of at least 8/);
    expect(passwordProblem("12345678")).toBeNull();
    // Seven emoji are 14 UTF-16 units but 7 characters: still too short.
    expect(passwordProblem("😀".repeat(7))).toMatch(/too short: 7/);
    expect(passwordProblem("x".repeat(1025))).toMatch(/too long/);
  });

  it("wants the password twice, the same", () => {
    expect(validateNewUser({ ...ok, confirm: "something else" })).toEqual({
      confirm: "The two passwords differ.",
    });
    // A bad password is reported once, on the password field.
    expect(validateNewUser({ ...ok, password: "x", confirm: "y" })).toEqual({
      password: expect.stringMatching(/too short/),
    });
  });

  it("reports every bad field at once", () => {
    const errors = validateNewUser({ username: "", role: "developer", password: "", confirm: "" });
    expect(Object.keys(errors).sort()).toEqual(["password", "username"]);
  });
});

describe("fieldErrorsFrom", () => {
  it("puts the server's 422 details on the form's fields", () => {
    const details = [
      { field: "username", message: "string should match pattern" },
      { field: "other", message: "ignored" },
    ];
    expect(fieldErrorsFrom(details, ["username", "password"] as const)).toEqual({
      username: "String should match pattern",
    });
  });
});
