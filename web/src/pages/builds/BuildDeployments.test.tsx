import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { fakeApi } from "../../test/fakeApi";
import { renderWithApp } from "../../test/render";
import { BUILD_ID, deploymentFixture } from "../environments/fixtures";
import { BuildDeployments } from "./BuildDeployments";

const NOW = Date.parse("2030-01-01T12:00:00Z");
const PATH = `/api/v1/builds/${BUILD_ID}/deployments`;

const waiting = deploymentFixture({
  id: "d2",
  number: 2,
  environment: "production",
  status: "awaiting_approval",
  waiting_reason: "waiting for approval",
  version: "v7",
  started_at: null,
  finished_at: null,
});
const done = deploymentFixture({ approved_by: "bob" });

describe("BuildDeployments", () => {
  it("lists the build's deployments, why one waits, and approves it", async () => {
    const user = userEvent.setup();
    let approved = false;
    const api = fakeApi(
      (request) => {
        if (request.path === PATH) {
          return { body: { items: [done, approved ? { ...waiting, status: "queued", waiting_reason: "waiting for deployment #1 to production" } : waiting] } };
        }
        if (request.path === "/api/v1/deployments/d2/approve") {
          approved = true;
          return { body: { ...waiting, status: "queued", log: [] } };
        }
        return undefined;
      },
      { role: "developer" },
    );
    renderWithApp(<BuildDeployments buildId={BUILD_ID} now={NOW} />);
    const table = await screen.findByRole("table", { name: "Deployments of this build" });
    const rows = within(table).getAllByRole("row").slice(1);
    expect(rows[0]).toHaveTextContent("staging #1");
    expect(rows[0]).toHaveTextContent("succeeded");
    expect(rows[1]).toHaveTextContent("Approved by bob");
    expect(within(rows[2]!).getByRole("link", { name: "production" })).toHaveAttribute("href", "/environments/production");
    expect(rows[2]).toHaveTextContent("awaiting approval");
    expect(rows[3]).toHaveTextContent("Waiting for approval");

    await user.click(screen.getByRole("button", { name: "Approve deployment #2 to production" }));
    expect(await screen.findByText("Waiting for deployment #1 to production")).toBeInTheDocument();
    expect(api.sent.some((request) => request.method === "POST" && request.path === "/api/v1/deployments/d2/approve")).toBe(true);
    expect(screen.queryByRole("button", { name: /Approve/ })).not.toBeInTheDocument();
  });

  it("rejects with a reason after a confirmation", async () => {
    const user = userEvent.setup();
    const api = fakeApi(
      (request) =>
        request.path === PATH
          ? { body: { items: [waiting] } }
          : request.path === "/api/v1/deployments/d2/reject"
            ? { body: { ...waiting, status: "rejected", log: [] } }
            : undefined,
      { role: "developer" },
    );
    renderWithApp(<BuildDeployments buildId={BUILD_ID} now={NOW} />);
    await user.click(await screen.findByRole("button", { name: "Reject deployment #2 to production" }));
    const dialog = screen.getByRole("dialog", { name: "Reject deployment #2 to production?" });
    await user.type(within(dialog).getByLabelText("Reason (optional)"), "not on a Friday");
    await user.click(within(dialog).getByRole("button", { name: "Reject" }));
    await waitFor(() => expect(screen.queryByRole("dialog")).not.toBeInTheDocument());
    const post = api.sent.find((request) => request.method === "POST")!;
    expect(post.path).toBe("/api/v1/deployments/d2/reject");
    expect(post.body).toEqual({ reason: "not on a Friday" });
  });

  it("shows a viewer no buttons", async () => {
    fakeApi((request) => (request.path === PATH ? { body: { items: [waiting] } } : undefined), { role: "viewer" });
    renderWithApp(<BuildDeployments buildId={BUILD_ID} now={NOW} />);
    await screen.findByRole("table", { name: "Deployments of this build" });
    expect(screen.queryByRole("button")).not.toBeInTheDocument();
  });

  it("shows nothing for a build that deploys nothing", async () => {
    const api = fakeApi((request) => (request.path === PATH ? { body: { items: [] } } : undefined), { role: "viewer" });
    const { container } = renderWithApp(<BuildDeployments buildId={BUILD_ID} now={NOW} />);
    await waitFor(() => expect(api.sent).toHaveLength(1));
    expect(container).toBeEmptyDOMElement();
  });
});
