import { render, screen, within } from "@testing-library/react";
import { MemoryRouter } from "react-router";
import type { Build } from "../api/client";
import { BuildTable } from "./BuildTable";

const NOW = Date.parse("2030-01-01T12:00:00Z");

function build(overrides: Partial<Build>): Build {
  return {
    id: "b1",
    job_id: "j1",
    job_name: "hello",
    number: 7,
    status: "success",
    awaiting_approval: false,
    exit_code: 0,
    error_message: null,
    queued_at: "2030-01-01T11:58:00Z",
    started_at: "2030-01-01T11:58:01Z",
    completed_at: "2030-01-01T11:58:31Z",
    duration_seconds: 30,
    worker_id: "w1",
    branch: "main",
    commit_sha: "0123456789abcdef",
    trigger: "manual",
    event: "manual",
    attempt: 1,
    labels: [],
    retry_of: null,
    not_before: null,
    waiting_reason: null,
    steps: [],
    ...overrides,
  };
}

describe("BuildTable", () => {
  it("links job and build, shows status as a word, names the worker", () => {
    render(
      <MemoryRouter>
        <BuildTable
          columns={["job", "number", "status", "branch", "commit", "worker", "trigger", "queued", "duration"]}
          caption="Builds"
          builds={[
            build({}),
            build({
              id: "b2",
              number: 8,
              status: "running",
              completed_at: null,
              duration_seconds: null,
              started_at: "2030-01-01T11:59:00Z",
              worker_id: null,
            }),
          ]}
          workerNames={new Map([["w1", "agent-1"]])}
          now={NOW}
        />
      </MemoryRouter>,
    );
    const rows = screen.getAllByRole("row").slice(1);
    const first = within(rows[0]!);
    expect(first.getByRole("link", { name: "hello" })).toHaveAttribute("href", "/jobs/j1");
    expect(first.getByRole("link", { name: /Build 7/ })).toHaveAttribute("href", "/builds/b1");
    expect(rows[0]).toHaveTextContent("success");
    expect(rows[0]).toHaveTextContent("agent-1");
    expect(rows[0]).toHaveTextContent("01234567");
    expect(rows[0]).toHaveTextContent("2m ago");
    expect(rows[0]).toHaveTextContent("30 s");
    // Running: the duration runs until now.
    expect(rows[1]).toHaveTextContent("running");
    expect(rows[1]).toHaveTextContent("1m 0s");
  });

  it("shows the job's name in the build's link without a job column, and a finished build's duration", () => {
    render(
      <MemoryRouter>
        <BuildTable
          columns={["status", "build", "branch", "worker", "duration", "queued"]}
          hideNarrow={["branch", "worker"]}
          caption="The newest builds"
          builds={[build({ id: "b2", number: 8, status: "failure", duration_seconds: 42, completed_at: "2030-01-01T11:59:00Z" })]}
          workerNames={new Map([["w1", "agent-1"]])}
          now={NOW}
        />
      </MemoryRouter>,
    );
    expect(screen.getAllByRole("columnheader").map((th) => th.textContent)).toEqual([
      "Status",
      "Build",
      "Branch",
      "Worker",
      "Duration",
      "Queued",
    ]);
    expect(screen.getByRole("columnheader", { name: "Branch" })).toHaveClass("hide-narrow");
    const row = screen.getAllByRole("row")[1]!;
    expect(within(row).getByText("failure")).toBeInTheDocument();
    expect(within(row).getByRole("link", { name: "hello #8" })).toHaveAttribute("href", "/builds/b2");
    expect(within(row).getByText("42 s")).toBeInTheDocument();
    expect(within(row).getByText("2m ago")).toBeInTheDocument();
  });
});

describe("BuildTable trigger column", () => {
  it("says push, tag, PR #N and marks a fork", () => {
    render(
      <MemoryRouter>
        <BuildTable
          columns={["number", "trigger"]}
          caption="Builds"
          builds={[
            build({ id: "a", trigger: "tag", event: "tag", tag: "v1.0" }),
            build({
              id: "b",
              trigger: "pull_request",
              event: "pull_request",
              pull_request: { number: 5, title: "Fix", source_branch: "fix", target_branch: "main", from_fork: true },
            }),
            build({ id: "c", trigger: "cron", event: "cron" }),
          ]}
          now={NOW}
        />
      </MemoryRouter>,
    );
    const cells = screen.getAllByRole("row").slice(1).map((row) => row.querySelectorAll("td")[1]!);
    expect(cells.map((cell) => cell.textContent)).toEqual(["tag v1.0", "PR #5 (fork)", "cron"]);
    expect(cells[1]).toHaveAttribute("title", "#5 Fix (fix → main)");
  });
});
