import { buildFixture } from "../test/fixtures";
import { commitTitle, triggerLabel } from "./builds";

const PR = { number: 7, title: "Add caching", source_branch: "cache", target_branch: "main", from_fork: false };

describe("triggerLabel", () => {
  it("names the event compactly", () => {
    expect(triggerLabel(buildFixture({ trigger: "push" }))).toBe("push");
    expect(triggerLabel(buildFixture({ trigger: "tag", event: "tag", tag: "v1.2.0" }))).toBe("tag v1.2.0");
    expect(triggerLabel(buildFixture({ trigger: "pull_request", event: "pull_request", pull_request: PR }))).toBe(
      "PR #7",
    );
    expect(triggerLabel(buildFixture({ trigger: "cron", event: "cron" }))).toBe("cron");
    expect(triggerLabel(buildFixture({ trigger: "manual", event: "manual" }))).toBe("manual");
  });
  it("says what a retry replays", () => {
    expect(triggerLabel(buildFixture({ trigger: "retry", event: "pull_request", pull_request: PR }))).toBe(
      "retry of PR #7",
    );
    expect(triggerLabel(buildFixture({ trigger: "retry", event: "retry" }))).toBe("retry");
    expect(triggerLabel({ trigger: "retry" })).toBe("retry");
  });
  it("works on a build from a server without the event fields", () => {
    expect(triggerLabel({ trigger: "manual" })).toBe("manual");
    expect(triggerLabel({ trigger: "tag" })).toBe("tag");
  });
});

describe("commitTitle", () => {
  it("is the first non-empty line", () => {
    expect(commitTitle("\nFix the parser\n\nLong story.")).toBe("Fix the parser");
    expect(commitTitle("")).toBeNull();
    expect(commitTitle(null)).toBeNull();
  });
});
