import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { MemoryRouter } from "react-router";
import { jobFixture } from "../../test/fixtures";
import { JobTabs } from "./JobDetailPage";
import { JobTriggersCard } from "./JobTriggersCard";

const ORIGIN = "https://ci.example.com";
const NOW = Date.parse("2030-01-01T12:00:00Z");

describe("JobTriggersCard", () => {
  it("shows the webhook URL of each forge, the job's first, and what starts a build", () => {
    render(
      <JobTriggersCard
        job={jobFixture({
          trigger_events: ["push"],
          branches: ["main", "release/*"],
          forge: { type: "gitlab", token_secret: "GL_TOKEN", api_url: null, repository: null },
        })}
        origin={ORIGIN}
        now={NOW}
      />,
    );
    const urls = screen.getAllByLabelText(/webhook URL$/);
    expect(urls.map((input) => (input as HTMLInputElement).value)).toEqual([
      "https://ci.example.com/api/v1/hooks/gitlab",
      "https://ci.example.com/api/v1/hooks/github",
      "https://ci.example.com/api/v1/hooks/gitea",
      "https://ci.example.com/api/v1/hooks/bitbucket",
    ]);
    expect(screen.getByRole("button", { name: "Copy gitlab webhook url" })).toBeInTheDocument();
    expect(screen.getByText("Push to a branch")).toBeInTheDocument();
    expect(screen.getByText("release/*")).toBeInTheDocument();
    expect(screen.getByText(/not set: deliveries for this job are refused/)).toBeInTheDocument();
    expect(screen.getByText("GL_TOKEN")).toBeInTheDocument();
    expect(screen.queryByLabelText("Badge Markdown")).not.toBeInTheDocument();
  });

  it("shows each schedule's next run and the badge's Markdown", async () => {
    const user = userEvent.setup();
    render(
      <JobTriggersCard
        job={jobFixture({
          has_webhook_secret: true,
          public_badge: true,
          next_run_at: "2030-01-01T15:00:00Z",
          schedules: [
            { cron: "0 15 * * *", branch: null, timezone: "UTC", env: {}, next_run_at: "2030-01-01T15:00:00Z" },
            { cron: "0 3 * * 1", branch: "dev", timezone: "Europe/Berlin", env: {}, next_run_at: "2030-01-07T02:00:00Z" },
          ],
        })}
        origin={ORIGIN}
        now={NOW}
      />,
    );
    const rows = screen.getAllByRole("row").slice(1);
    expect(rows[0]).toHaveTextContent("0 15 * * *");
    expect(rows[0]).toHaveTextContent("in 3h 0m");
    expect(rows[1]).toHaveTextContent("Europe/Berlin");
    expect(rows[1]).toHaveTextContent("in 5d");
    expect(screen.getByText(/\(in 3h 0m\)/)).toBeInTheDocument();
    expect(screen.getByLabelText("Badge Markdown")).toHaveValue(
      "[![api](https://ci.example.com/api/v1/badges/api.svg)](https://ci.example.com/jobs/11111111-1111-1111-1111-111111111111)",
    );
    await user.click(screen.getByRole("button", { name: "Copy badge markdown" }));
    expect(await navigator.clipboard.readText()).toMatch(/^\[!\[api\]/);
  });
});

describe("JobTabs", () => {
  it("switches with a click and with the arrow keys", async () => {
    const user = userEvent.setup();
    const onChange = vi.fn();
    render(
      <MemoryRouter>
        <JobTabs tab="overview" onChange={onChange} />
      </MemoryRouter>,
    );
    expect(screen.getByRole("tab", { name: "Overview" })).toHaveAttribute("aria-selected", "true");
    await user.click(screen.getByRole("tab", { name: "Deliveries" }));
    expect(onChange).toHaveBeenLastCalledWith("deliveries");
    screen.getByRole("tab", { name: "Overview" }).focus();
    await user.keyboard("{ArrowRight}");
    expect(onChange).toHaveBeenLastCalledWith("deliveries");
  });
});
