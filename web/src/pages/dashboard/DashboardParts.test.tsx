import { render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import type { ReactElement } from "react";
import { MemoryRouter } from "react-router";
import { describe, expect, it, vi } from "vitest";
import type { Build } from "../../api/client";
import { FirstRun, JobStatsTable, LiveBuildList, StatCards, WindowToggle } from "./DashboardParts";
import type { JobStats, Stats } from "./dashboardData";

const NOW = Date.parse("2024-03-05T12:00:00Z");

function build(fields: Partial<Build> = {}): Build {
  return {
    id: "b1",
    job_id: "j1",
    job_name: "hello",
    number: 7,
    status: "running",
    awaiting_approval: false,
    attempt: 1,
    branch: "main",
    commit_sha: null,
    labels: [],
    not_before: null,
    retry_of: null,
    trigger: "manual",
    event: "manual",
    queued_at: "2024-03-05T11:58:00Z",
    started_at: "2024-03-05T11:59:30Z",
    completed_at: null,
    duration_seconds: null,
    exit_code: null,
    error_message: null,
    worker_id: "w1",
    waiting_reason: null,
    ...fields,
  };
}

function inRouter(ui: ReactElement) {
  return render(<MemoryRouter>{ui}</MemoryRouter>);
}

const workerNames = new Map([["w1", "builder-1"]]);

describe("LiveBuildList", () => {
  it("shows a running build with its link, branch, worker and elapsed time", () => {
    inRouter(<LiveBuildList kind="running" builds={[build()]} workerNames={workerNames} now={NOW} />);
    const link = screen.getByRole("link", { name: /hello #7/ });
    expect(link).toHaveAttribute("href", "/builds/b1");
    expect(screen.getByText("main")).toBeInTheDocument();
    expect(screen.getByText("on builder-1")).toBeInTheDocument();
    expect(screen.getByText(/running for/).parentElement).toHaveTextContent("30 s");
  });

  it("shows why a queued build waits, and how long", () => {
    const queued = build({ status: "queued", started_at: null, worker_id: null, waiting_reason: "no worker has the label docker" });
    inRouter(<LiveBuildList kind="queued" builds={[queued]} workerNames={workerNames} now={NOW} />);
    expect(screen.getByText("no worker has the label docker")).toBeInTheDocument();
    expect(screen.getByText(/waiting for/).parentElement).toHaveTextContent("2m 0s");
  });

  it("says when nothing runs, and links to more", () => {
    const { unmount } = inRouter(<LiveBuildList kind="running" builds={[]} workerNames={workerNames} now={NOW} />);
    expect(screen.getByText("Nothing is running.")).toBeInTheDocument();
    unmount();
    inRouter(<LiveBuildList kind="queued" builds={[build()]} workerNames={workerNames} now={NOW} more />);
    expect(screen.getByRole("link", { name: "All queued builds" })).toHaveAttribute("href", "/builds?status=queued");
  });
});

describe("JobStatsTable", () => {
  const jobs: JobStats[] = [
    {
      job_id: "j1",
      job_name: "hello",
      builds: 3,
      succeeded: 2,
      failed: 1,
      success_rate: 2 / 3,
      median_duration_seconds: 75,
      last_status: "success",
      last_build_id: "b9",
    },
    {
      job_id: "j2",
      job_name: "idle",
      builds: 0,
      succeeded: 0,
      failed: 0,
      success_rate: null,
      median_duration_seconds: null,
      last_status: null,
      last_build_id: null,
    },
  ];
  it("shows the numbers per job, with row headers", () => {
    inRouter(<JobStatsTable jobs={jobs} days={7} />);
    const hello = screen.getByRole("rowheader", { name: "hello" }).closest("tr")!;
    expect(within(hello).getByRole("link", { name: "hello" })).toHaveAttribute("href", "/jobs/j1");
    expect(within(hello).getByText("67%")).toBeInTheDocument();
    expect(within(hello).getByText("1m 15s")).toBeInTheDocument();
    expect(within(hello).getByRole("link", { name: /success/ })).toHaveAttribute("href", "/builds/b9");
    const idle = screen.getByRole("rowheader", { name: "idle" }).closest("tr")!;
    expect(within(idle).getByText("never built")).toBeInTheDocument();
  });
});

describe("StatCards", () => {
  it("shows the live counts and queue times", () => {
    const stats: Stats = {
      days: 30,
      builds_running: 2,
      builds_queued: 5,
      workers_online: 3,
      workers_busy: 1,
      workers_draining: 1,
      workers_offline: 0,
      queue_seconds_p50: 0.25,
      queue_seconds_p95: 4,
      jobs: [],
      daily: [],
    };
    inRouter(<StatCards stats={stats} />);
    expect(screen.getByRole("region", { name: "Queued" })).toHaveTextContent("5");
    expect(screen.getByRole("region", { name: "Workers online" })).toHaveTextContent("1 busy · 1 draining · 0 offline");
    expect(screen.getByRole("region", { name: "Queue time" })).toHaveTextContent("250 ms p50");
    expect(screen.getByRole("region", { name: "Queue time" })).toHaveTextContent("p95 4.0 s · last 30 days");
  });
});

describe("WindowToggle", () => {
  it("marks the chosen window and reports a change", async () => {
    const onChange = vi.fn();
    inRouter(<WindowToggle days={7} onChange={onChange} />);
    expect(screen.getByRole("button", { name: "7 days" })).toHaveAttribute("aria-pressed", "true");
    await userEvent.click(screen.getByRole("button", { name: "30 days" }));
    expect(onChange).toHaveBeenCalledWith(30);
  });
});

describe("FirstRun", () => {
  it("tells a developer to trigger the demo job", () => {
    inRouter(<FirstRun canTrigger workersOnline={1} />);
    expect(screen.getByRole("heading", { name: "No builds yet" })).toBeInTheDocument();
    expect(screen.getByRole("link", { name: "Jobs page" })).toHaveAttribute("href", "/jobs");
    expect(screen.getByText("Trigger")).toBeInTheDocument();
    expect(screen.queryByRole("link", { name: "Workers" })).not.toBeInTheDocument();
  });
  it("points to the workers page when no worker is online", () => {
    inRouter(<FirstRun canTrigger={false} workersOnline={0} />);
    expect(screen.getByText(/a developer or admin can trigger them/)).toBeInTheDocument();
    expect(screen.getByRole("link", { name: "Workers" })).toHaveAttribute("href", "/workers");
  });
});
