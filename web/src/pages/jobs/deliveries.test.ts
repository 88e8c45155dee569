import { formatHeaders, prettyBody, replaySummary } from "./deliveries";

describe("prettyBody", () => {
  it("pretty-prints JSON", () => {
    expect(prettyBody('{"ref":"refs/heads/main","commits":[1]}')).toBe(
      '{\n  "ref": "refs/heads/main",\n  "commits": [\n    1\n  ]\n}',
    );
  });
  it("decodes GitHub's form-encoded payload", () => {
    const body = `payload=${encodeURIComponent('{"zen":"Keep it simple."}')}`;
    expect(prettyBody(body)).toBe('{\n  "zen": "Keep it simple."\n}');
  });
  it("shows anything else as it came", () => {
    expect(prettyBody("{not json")).toBe("{not json");
    expect(prettyBody("payload=%7Bbroken")).toBe("payload=%7Bbroken");
    expect(prettyBody("")).toBe("");
  });
});

describe("formatHeaders", () => {
  it("sorts by name, one a line", () => {
    expect(formatHeaders({ "X-GitHub-Event": "push", "Content-Type": "application/json" })).toBe(
      "Content-Type: application/json\nX-GitHub-Event: push",
    );
  });
});

describe("replaySummary", () => {
  it("counts the builds created", () => {
    expect(
      replaySummary({
        delivery_id: "d",
        builds: [
          { id: "b1", job_id: "j", number: 12 },
          { id: "b2", job_id: "j", number: 13 },
        ],
        ignored: [],
      }),
    ).toBe("Replayed: 2 builds created (#12, #13).");
  });
  it("says why nothing was built", () => {
    expect(
      replaySummary({ delivery_id: "d", builds: [], ignored: [{ job_id: "j", reason: "branch docs does not match" }] }),
    ).toBe("Replayed: no build created: branch docs does not match.");
  });
});
