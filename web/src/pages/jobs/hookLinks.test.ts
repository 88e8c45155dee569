import { jobFixture } from "../../test/fixtures";
import { badgeMarkdown, badgeUrl, forgesFor, webhookUrl } from "./hookLinks";

const ORIGIN = "https://ci.example.com";

describe("hook links", () => {
  it("gives each forge its receiver", () => {
    expect(webhookUrl(ORIGIN, "github")).toBe("https://ci.example.com/api/v1/hooks/github");
    expect(webhookUrl(ORIGIN, "bitbucket")).toBe("https://ci.example.com/api/v1/hooks/bitbucket");
  });
  it("puts the job's own forge first", () => {
    expect(forgesFor(jobFixture())).toEqual(["github", "gitlab", "gitea", "bitbucket"]);
    expect(forgesFor(jobFixture({ forge: { type: "gitea", token_secret: "T", api_url: "https://g/api/v1" } }))).toEqual([
      "gitea",
      "github",
      "gitlab",
      "bitbucket",
    ]);
  });
  it("builds the badge's address and Markdown, escaping the name", () => {
    expect(badgeUrl(ORIGIN, "my job")).toBe("https://ci.example.com/api/v1/badges/my%20job.svg");
    expect(badgeUrl(ORIGIN, "api", "release/1")).toBe("https://ci.example.com/api/v1/badges/api.svg?branch=release%2F1");
    expect(badgeMarkdown(ORIGIN, { id: "j1", name: "api" })).toBe(
      "[![api](https://ci.example.com/api/v1/badges/api.svg)](https://ci.example.com/jobs/j1)",
    );
  });
});
