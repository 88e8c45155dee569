import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import type { Schemas } from "../../api/client";
import { fakeApi } from "../../test/fakeApi";
import { renderWithApp } from "../../test/render";
import { DeliveriesPanel } from "./DeliveriesPanel";

const JOB = "11111111-1111-1111-1111-111111111111";
const NOW = Date.parse("2030-01-01T12:00:00Z");

function delivery(overrides: Partial<Schemas["DeliveryRead"]>): Schemas["DeliveryRead"] {
  return {
    id: "d1",
    forge: "github",
    event: "push",
    delivery_id: "72d3162e-cc78-11e3-81ab-4c9367dc0958",
    received_at: "2030-01-01T11:55:00Z",
    outcome: "accepted",
    reason: null,
    status_code: 202,
    body_truncated: false,
    ignored: [],
    replay_of: null,
    job_ids: [JOB],
    build_ids: ["33333333-3333-3333-3333-333333333333"],
    headers: { "X-GitHub-Event": "push", "Content-Type": "application/json" },
    body: '{"ref":"refs/heads/main"}',
    ...overrides,
  };
}

describe("DeliveriesPanel", () => {
  it("lists the job's deliveries with outcome, reason and builds, and shows headers and body", async () => {
    const user = userEvent.setup();
    const api = fakeApi(
      (request) =>
        request.path === "/api/v1/hooks/deliveries"
          ? {
              body: {
                items: [
                  delivery({}),
                  delivery({
                    id: "d2",
                    forge: "gitlab",
                    event: "Merge Request Hook",
                    outcome: "ignored",
                    reason: "branch docs matches none of the job's branches",
                    status_code: 202,
                    build_ids: [],
                  }),
                ],
                next_cursor: null,
              },
            }
          : undefined,
      { role: "admin" },
    );
    renderWithApp(<DeliveriesPanel jobId={JOB} now={NOW} />);
    const list = await screen.findByRole("list", { name: "Webhook deliveries" });
    expect(api.sent[0]!.query.get("job_id")).toBe(JOB);
    const [first, second] = within(list).getAllByRole("listitem");
    expect(first).toHaveTextContent("5m ago");
    expect(first).toHaveTextContent("GitHub");
    expect(first).toHaveTextContent("accepted");
    expect(within(first!).getByRole("link", { name: "33333333" })).toHaveAttribute(
      "href",
      "/builds/33333333-3333-3333-3333-333333333333",
    );
    expect(second).toHaveTextContent("GitLab");
    expect(second).toHaveTextContent("ignored");
    expect(second).toHaveTextContent("branch docs matches none of the job's branches");

    const toggle = within(first!).getByRole("button", { name: "Show headers and body" });
    expect(toggle).toHaveAttribute("aria-expanded", "false");
    await user.click(toggle);
    expect(within(first!).getByLabelText("Headers")).toHaveTextContent(
      "Content-Type: application/json X-GitHub-Event: push",
    );
    expect(within(first!).getByLabelText("Body").textContent).toBe('{\n  "ref": "refs/heads/main"\n}');
  });

  it("replays a delivery and says what it built", async () => {
    const user = userEvent.setup();
    const api = fakeApi(
      (request) => {
        if (request.path === "/api/v1/hooks/deliveries") return { body: { items: [delivery({})], next_cursor: null } };
        if (request.method === "POST" && request.path === "/api/v1/hooks/deliveries/d1/replay") {
          return {
            status: 202,
            body: { delivery_id: "x", builds: [{ id: "b9", job_id: JOB, number: 9 }], ignored: [] },
          };
        }
        return undefined;
      },
      { role: "admin" },
    );
    renderWithApp(<DeliveriesPanel jobId={JOB} now={NOW} />);
    await user.click(await screen.findByRole("button", { name: "Replay" }));
    const status = await screen.findByText(/Replayed: 1 build created \(#9\)/);
    expect(within(status).getByRole("link", { name: "Build #9" })).toHaveAttribute("href", "/builds/b9");
    expect(api.sent.filter((r) => r.method === "POST")).toHaveLength(1);
    // The list is asked again, so the replay's own delivery shows up.
    await waitFor(() => expect(api.sent.filter((r) => r.path === "/api/v1/hooks/deliveries")).toHaveLength(2));
  });

  it("shows a refused replay and an empty log", async () => {
    const user = userEvent.setup();
    fakeApi((request) =>
      request.method === "POST"
        ? { status: 404, body: { error: { code: "not_found", message: "the delivery is gone" } } }
        : { body: { items: [delivery({ outcome: "ignored", reason: "branch not matched", build_ids: [] })], next_cursor: null } },
    );
    renderWithApp(<DeliveriesPanel jobId={JOB} now={NOW} />);
    expect(await screen.findByText("branch not matched")).toBeInTheDocument();
    await user.click(screen.getByRole("button", { name: "Replay" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("Replay failed: the delivery is gone");
  });

  it("offers no replay for a delivery no job's secret verified", async () => {
    // A refused delivery is listed under its repository's jobs, but verified by none of them.
    const api = fakeApi(() => ({
      body: {
        items: [delivery({ outcome: "rejected", reason: "bad signature", status_code: 401, job_ids: [], build_ids: [] })],
        next_cursor: null,
      },
    }));
    renderWithApp(<DeliveriesPanel jobId={JOB} now={NOW} />);
    expect(await screen.findByText("bad signature")).toBeInTheDocument();
    expect(screen.queryByRole("button", { name: "Replay" })).not.toBeInTheDocument();
    expect(screen.getByText("not replayable")).toHaveAttribute("title", expect.stringMatching(/send it again from the forge/));
    expect(api.sent.filter((r) => r.method === "POST")).toHaveLength(0);
  });

  it("pages older deliveries", async () => {
    const user = userEvent.setup();
    fakeApi((request) =>
      request.query.get("cursor") === "older"
        ? { body: { items: [delivery({ id: "old", event: "create" })], next_cursor: null } }
        : { body: { items: [delivery({})], next_cursor: "older" } },
    );
    renderWithApp(<DeliveriesPanel jobId={JOB} now={NOW} />);
    await user.click(await screen.findByRole("button", { name: "Older deliveries" }));
    expect(await screen.findByText("create")).toBeInTheDocument();
    expect(screen.queryByRole("button", { name: "Older deliveries" })).not.toBeInTheDocument();
  });

  it("says how to get a first delivery", async () => {
    fakeApi(() => ({ body: { items: [], next_cursor: null } }));
    renderWithApp(<DeliveriesPanel jobId={JOB} now={NOW} />);
    expect(await screen.findByText(/No deliveries yet/)).toBeInTheDocument();
  });
});
