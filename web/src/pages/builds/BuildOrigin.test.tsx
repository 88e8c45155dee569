import { screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { fakeApi } from "../../test/fakeApi";
import { buildFixture } from "../../test/fixtures";
import { renderWithApp } from "../../test/render";
import { ApprovalBanner, BuildOrigin } from "./BuildOrigin";

const FORK_PR = {
  number: 42,
  title: "Speed up the parser",
  source_branch: "fast-parser",
  target_branch: "main",
  from_fork: true,
};

describe("BuildOrigin", () => {
  it("shows a pull request from a fork with its branches and the commit", () => {
    renderWithApp(
      <BuildOrigin
        build={buildFixture({
          trigger: "pull_request",
          event: "pull_request",
          pull_request: FORK_PR,
          commit_message: "Use a table instead of a regex\n\nBenchmarks inside.",
          commit_author: "Ada",
        })}
      />,
    );
    const origin = screen.getByLabelText("What started this build");
    expect(origin).toHaveTextContent("Pull request #42 Speed up the parser fast-parser → main");
    expect(screen.getByText("from a fork")).toBeInTheDocument();
    expect(origin).toHaveTextContent("Use a table instead of a regex — Ada");
    expect(origin).not.toHaveTextContent("Benchmarks");
  });

  it("shows a tag, a push's branch, a schedule and a retry's original event", () => {
    const { unmount } = renderWithApp(<BuildOrigin build={buildFixture({ trigger: "tag", event: "tag", tag: "v2.0.0" })} />);
    expect(screen.getByLabelText("What started this build")).toHaveTextContent("Tag v2.0.0");
    unmount();
    const second = renderWithApp(<BuildOrigin build={buildFixture({ trigger: "push", event: "push", branch: "dev" })} />);
    expect(screen.getByLabelText("What started this build")).toHaveTextContent("Push to dev");
    second.unmount();
    const third = renderWithApp(<BuildOrigin build={buildFixture({ trigger: "cron", event: "cron" })} />);
    expect(screen.getByLabelText("What started this build")).toHaveTextContent("Schedule on main");
    third.unmount();
    renderWithApp(<BuildOrigin build={buildFixture({ trigger: "retry", event: "push", approved_by: "bob" })} />);
    expect(screen.getByLabelText("What started this build")).toHaveTextContent("Retry of a build started by: push");
    expect(screen.getByText("Approved by bob.")).toBeInTheDocument();
  });
});

describe("ApprovalBanner", () => {
  const waiting = buildFixture({
    trigger: "pull_request",
    event: "pull_request",
    pull_request: FORK_PR,
    awaiting_approval: true,
    waiting_reason: "waiting for approval",
  });

  it("lets a developer approve, and shows the build as the server answers", async () => {
    const user = userEvent.setup();
    const api = fakeApi(
      (request) =>
        request.method === "POST" && request.path === `/api/v1/builds/${waiting.id}/approve`
          ? { body: { ...waiting, awaiting_approval: false, approved_by: "tester" } }
          : undefined,
      { role: "developer" },
    );
    renderWithApp(<ApprovalBanner build={waiting} />);
    expect(screen.getByRole("region", { name: "Waiting for approval" })).toHaveTextContent("pull request from a fork");
    await user.click(await screen.findByRole("button", { name: "Approve" }));
    await waitFor(() => expect(api.sent.filter((r) => r.method === "POST")).toHaveLength(1));
    expect(screen.queryByRole("alert")).not.toBeInTheDocument();
  });

  it("shows a refused approval", async () => {
    const user = userEvent.setup();
    fakeApi(
      () => ({ status: 409, body: { error: { code: "conflict", message: "the build does not await approval" } } }),
      { role: "admin" },
    );
    renderWithApp(<ApprovalBanner build={waiting} />);
    await user.click(await screen.findByRole("button", { name: "Approve" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("Approval failed: the build does not await approval");
  });

  it("gives a viewer no button, and shows nothing for a build that does not wait", async () => {
    fakeApi(() => undefined, { role: "viewer" });
    const { unmount } = renderWithApp(<ApprovalBanner build={waiting} />);
    expect(await screen.findByText(/A developer or an admin can approve it/)).toBeInTheDocument();
    expect(screen.queryByRole("button", { name: "Approve" })).not.toBeInTheDocument();
    unmount();
    renderWithApp(<ApprovalBanner build={buildFixture({})} />);
    expect(screen.queryByRole("region", { name: "Waiting for approval" })).not.toBeInTheDocument();
  });
});
