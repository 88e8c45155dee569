import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { Route, Routes } from "react-router";
import type { Schemas } from "../../api/client";
import { fakeApi, type SentRequest } from "../../test/fakeApi";
import { renderWithApp } from "../../test/render";
import { EnvironmentPage } from "./EnvironmentPage";
import { EnvironmentsPage } from "./EnvironmentsPage";
import { currentFixture, deploymentFixture, environmentFixture, KUBE_TARGET } from "./fixtures";

const v3 = deploymentFixture({ id: "d3", number: 3, version: "v3", target: KUBE_TARGET, approved_by: "bob" });
const v2 = deploymentFixture({ id: "d2", number: 2, version: "v2", status: "failed", target: KUBE_TARGET, message: "rollout timed out" });
const v1 = deploymentFixture({ id: "d1", number: 1, version: "v1", target: KUBE_TARGET, build_number: 5 });
const waiting = deploymentFixture({
  id: "d4",
  number: 4,
  version: "v4",
  status: "awaiting_approval",
  waiting_reason: "waiting for approval",
  target: KUBE_TARGET,
  started_at: null,
  finished_at: null,
});

function staging(overrides: Partial<Schemas["EnvironmentDetail"]> = {}) {
  return environmentFixture({
    current: currentFixture(v3),
    waiting: 1,
    history: [waiting, v3, v2, v1],
    ...overrides,
  });
}

function renderEnvironment() {
  return renderWithApp(
    <Routes>
      <Route path="/environments/:name" element={<EnvironmentPage />} />
    </Routes>,
    { route: "/environments/staging" },
  );
}

/** The environment's GET, and what a test's POST/PUT answers. */
function serve(environment: Schemas["EnvironmentDetail"], other?: (request: SentRequest) => { status?: number; body?: unknown } | undefined) {
  return (request: SentRequest) =>
    request.method === "GET" && request.path === "/api/v1/environments/staging" ? { body: environment } : other?.(request);
}

describe("EnvironmentPage", () => {
  it("shows what runs there and the history, with the waiting one's reason and the failure's message", async () => {
    fakeApi(serve(staging()), { role: "viewer" });
    renderEnvironment();
    const history = await screen.findByRole("table", { name: "Deployment history" });
    expect(screen.getByTitle("The version running there")).toHaveTextContent("v3");
    expect(screen.getByText("1 deployment waits")).toBeInTheDocument();
    expect(screen.getByText("Deployed by").nextElementSibling).toHaveTextContent("alice · approved by bob");
    const rows = within(history).getAllByRole("row").slice(1);
    expect(rows[0]).toHaveTextContent("#4");
    expect(rows[0]).toHaveTextContent("awaiting approval");
    expect(rows[1]).toHaveTextContent("Waiting for approval");
    expect(rows[2]).toHaveTextContent("current");
    expect(within(history).getByText("rollout timed out")).toHaveClass("error");
    expect(within(rows[0]!).getByRole("link", { name: "api #7" })).toHaveAttribute(
      "href",
      "/builds/22222222-2222-2222-2222-222222222222",
    );
    // A viewer decides nothing.
    expect(screen.queryByRole("button", { name: /Rollback|Roll back|Approve|Reject/ })).not.toBeInTheDocument();
    // Reading a rollout's lines is no action: a viewer has it.
    expect(screen.getAllByRole("button", { name: /Rollout log/ })).toHaveLength(3);
    expect(screen.queryByRole("checkbox")).not.toBeInTheDocument();
  });

  it("rolls back to the previous version after a confirmation", async () => {
    const user = userEvent.setup();
    const rolled = deploymentFixture({ id: "d5", number: 5, kind: "rollback", version: "v1", status: "queued" });
    const api = fakeApi(
      serve(staging(), (request) =>
        request.path === "/api/v1/environments/staging/rollback" ? { status: 201, body: { ...rolled, log: [] } } : undefined,
      ),
      { role: "developer" },
    );
    renderEnvironment();
    await user.click(await screen.findByRole("button", { name: "Rollback" }));
    const dialog = screen.getByRole("dialog", { name: "Roll back staging?" });
    // The failed v2 is passed over: the previous good version is v1.
    expect(dialog).toHaveTextContent("staging goes back to version v1 (deployment #1, build api #5). It runs v3 now.");
    await user.click(within(dialog).getByRole("button", { name: "Roll back" }));
    await waitFor(() => expect(screen.queryByRole("dialog")).not.toBeInTheDocument());
    const post = api.sent.find((request) => request.method === "POST")!;
    expect(post.path).toBe("/api/v1/environments/staging/rollback");
    expect(post.body).toEqual({});
    expect(screen.getByRole("status")).toHaveTextContent("Rollback #5 to v1 is under way.");
  });

  it("rolls back to a chosen deployment, and shows the server's refusal in the dialog", async () => {
    const user = userEvent.setup();
    const api = fakeApi(
      serve(staging(), (request) =>
        request.path === "/api/v1/environments/staging/rollback"
          ? { status: 409, body: { error: { code: "conflict", message: "deployment #1 is too old" } } }
          : undefined,
      ),
      { role: "developer" },
    );
    renderEnvironment();
    // Only the successful Kubernetes deployment that is not the current one can be gone back to.
    const buttons = await screen.findAllByRole("button", { name: /Roll back to this/ });
    expect(buttons).toHaveLength(1);
    await user.click(screen.getByRole("button", { name: "Roll back to this (#1)" }));
    const dialog = screen.getByRole("dialog");
    await user.click(within(dialog).getByRole("button", { name: "Roll back" }));
    expect(await within(dialog).findByRole("alert")).toHaveTextContent("deployment #1 is too old");
    expect(api.sent.find((request) => request.method === "POST")!.body).toEqual({ deployment_id: "d1" });
  });

  it("offers no rollback when a script deployed the current version", async () => {
    const scripted = deploymentFixture({ id: "d3", number: 3, version: "v3" });
    fakeApi(serve(staging({ current: currentFixture(scripted), waiting: 0, history: [scripted, v1] })), {
      role: "developer",
    });
    renderEnvironment();
    await screen.findByRole("table", { name: "Deployment history" });
    expect(screen.queryByRole("button", { name: /Rollback|Roll back/ })).not.toBeInTheDocument();
  });

  it("approves a waiting deployment from its row", async () => {
    const user = userEvent.setup();
    const api = fakeApi(
      serve(staging(), (request) =>
        request.path === "/api/v1/deployments/d4/approve" ? { body: { ...waiting, status: "queued", log: [] } } : undefined,
      ),
      { role: "developer" },
    );
    renderEnvironment();
    await user.click(await screen.findByRole("button", { name: "Approve deployment #4 to staging" }));
    await waitFor(() => expect(api.sent.some((request) => request.path === "/api/v1/deployments/d4/approve")).toBe(true));
  });

  it("lets an admin require approvals", async () => {
    const user = userEvent.setup();
    const api = fakeApi(
      serve(staging(), (request) => (request.method === "PUT" ? { body: { ...staging(), approval_required: true } } : undefined)),
      { role: "admin" },
    );
    renderEnvironment();
    const toggle = await screen.findByRole("checkbox", { name: /waits for a developer's approval/ });
    expect(toggle).not.toBeChecked();
    await user.click(toggle);
    await waitFor(() => expect(api.sent.some((request) => request.method === "PUT")).toBe(true));
    const put = api.sent.find((request) => request.method === "PUT")!;
    expect(put.path).toBe("/api/v1/environments/staging");
    expect(put.body).toEqual({ approval_required: true });
  });

  it("loads older deployments by the cursor", async () => {
    const user = userEvent.setup();
    const api = fakeApi(
      (request) =>
        request.path === "/api/v1/environments/staging"
          ? request.query.get("cursor") === "page2"
            ? { body: staging({ history: [v1], next_cursor: null }) }
            : { body: staging({ history: [waiting, v3, v2], next_cursor: "page2" }) }
          : undefined,
      { role: "viewer" },
    );
    renderEnvironment();
    await user.click(await screen.findByRole("button", { name: "Load older deployments" }));
    const history = screen.getByRole("table", { name: "Deployment history" });
    await waitFor(() => expect(within(history).getAllByRole("row")).toHaveLength(1 + 4 + 2));
    expect(api.sent.at(-1)!.query.get("cursor")).toBe("page2");
    expect(screen.queryByRole("button", { name: "Load older deployments" })).not.toBeInTheDocument();
  });

  it("says so when there is no such environment", async () => {
    fakeApi(() => undefined, { role: "viewer" });
    renderEnvironment();
    expect(await screen.findByRole("alert")).toHaveTextContent("There is no environment named staging.");
  });
});

describe("EnvironmentsPage", () => {
  it("shows each environment with what runs there and what runs or waits", async () => {
    const running = deploymentFixture({ id: "d9", number: 9, environment: "production", status: "running", version: "v9" });
    fakeApi(
      (request) =>
        request.path === "/api/v1/environments"
          ? {
              body: {
                items: [
                  { ...staging(), history: undefined, next_cursor: undefined },
                  environmentFixture({ name: "production", approval_required: true, running, waiting: 2 }),
                ],
              },
            }
          : undefined,
      { role: "viewer" },
    );
    renderWithApp(<EnvironmentsPage />);
    const list = await screen.findByRole("list", { name: "Environments" });
    const [first, second] = within(list).getAllByRole("listitem");
    expect(within(first!).getByRole("link", { name: "staging" })).toHaveAttribute("href", "/environments/staging");
    expect(first).toHaveTextContent("v3");
    expect(first).toHaveTextContent("api #7");
    expect(first).toHaveTextContent("01234567");
    expect(first).toHaveTextContent("alice · approved by bob");
    expect(first).toHaveTextContent("1 waiting");
    expect(second).toHaveTextContent("approval required");
    expect(second).toHaveTextContent("Nothing deployed yet.");
    expect(second).toHaveTextContent("running#9 v9");
    expect(second).toHaveTextContent("2 waiting");
  });

  it("says how an environment comes to be when there is none", async () => {
    fakeApi((request) => (request.path === "/api/v1/environments" ? { body: { items: [] } } : undefined), { role: "viewer" });
    renderWithApp(<EnvironmentsPage />);
    expect(await screen.findByText(/No environments yet/)).toBeInTheDocument();
  });
});

describe("EnvironmentPage rollout log", () => {
  it("shows the progress lines of a rollout the server performed", async () => {
    const user = userEvent.setup();
    fakeApi(
      serve(staging(), (request) =>
        request.path === "/api/v1/deployments/d3"
          ? {
              body: {
                ...v3,
                log: [
                  { ts: "2030-01-01T11:50:02Z", text: "setting the image of container 'app' of deployment web/app" },
                  { ts: "2030-01-01T11:50:05Z", text: "the rollout of deployment web/app is complete" },
                ],
              },
            }
          : undefined,
      ),
      { role: "viewer" },
    );
    renderEnvironment();
    const toggle = await screen.findByRole("button", { name: "Rollout log (#3)" });
    expect(toggle).toHaveAttribute("aria-expanded", "false");
    await user.click(toggle);
    const log = await screen.findByLabelText("Rollout of deployment #3");
    expect(log).toHaveTextContent("setting the image of container 'app' of deployment web/app");
    expect(log).toHaveTextContent("the rollout of deployment web/app is complete");
    expect(toggle).toHaveAttribute("aria-expanded", "true");
  });
});
