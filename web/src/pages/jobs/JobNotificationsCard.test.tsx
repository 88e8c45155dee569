import { screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { fakeApi, type SentRequest } from "../../test/fakeApi";
import { jobFixture } from "../../test/fixtures";
import { renderWithApp } from "../../test/render";
import { JobNotificationsCard } from "./JobNotificationsCard";

const JOB = jobFixture({
  notifications: [
    { type: "email", to: ["dev@example.com"], on: ["failure", "fixed"] },
    { type: "webhook", url: "http://127.0.0.1:9/hook", signing_secret: "HOOK_KEY", on: ["always"], branches: ["main"] },
  ],
});
const TEST_PATH = `/api/v1/jobs/${JOB.id}/notifications/test`;

// The answer of POST /jobs/{id}/notifications/test as contract 3 of issue 17 has it.
function answer(request: SentRequest) {
  if (request.method !== "POST" || request.path !== TEST_PATH) return undefined;
  const results = [
    { rule: 0, type: "email", target: "dev@example.com", ok: true, error: null },
    { rule: 1, type: "webhook", target: "http://127.0.0.1:9/hook", ok: false, error: "connection refused" },
  ];
  const { rule } = request.body as { rule: number | null };
  return { body: { results: rule === null ? results : results.filter((r) => r.rule === rule) } };
}

describe("JobNotificationsCard", () => {
  it("lists the rules and sends a test through all of them, showing each result", async () => {
    const user = userEvent.setup();
    const api = fakeApi(answer, { role: "developer" });
    renderWithApp(<JobNotificationsCard job={JOB} canTest />);
    const [email, webhook] = within(screen.getByRole("list", { name: "Notification rules" })).getAllByRole("listitem");
    expect(email).toHaveTextContent("emailto dev@example.comon failure, fixed");
    expect(webhook).toHaveTextContent("http://127.0.0.1:9/hook, signed with secret HOOK_KEY");
    expect(webhook).toHaveTextContent("on always · branches main");

    await user.click(screen.getByRole("button", { name: "Send a test notification" }));
    expect(await within(webhook!).findByText(/Test failed: connection refused/)).toBeInTheDocument();
    expect(within(email!).getByText(/Test sent to dev@example.com/)).toBeInTheDocument();
    expect(screen.getByRole("status")).toHaveTextContent("1 of 2 test notifications failed.");
    expect(api.sent.map((r) => r.body)).toEqual([{ rule: null }]);
  });

  it("sends a test through one rule", async () => {
    const user = userEvent.setup();
    const api = fakeApi(answer, { role: "developer" });
    renderWithApp(<JobNotificationsCard job={JOB} canTest />);
    await user.click(screen.getByRole("button", { name: "Send a test through rule 1" }));
    expect(await screen.findByRole("status")).toHaveTextContent("The test notification was sent.");
    expect(api.sent.map((r) => r.body)).toEqual([{ rule: 0 }]);
  });

  it("shows the server's refusal", async () => {
    const user = userEvent.setup();
    fakeApi(
      () => ({ status: 403, body: { error: { code: "forbidden", message: "needs the developer role" } } }),
      { role: "developer" },
    );
    renderWithApp(<JobNotificationsCard job={JOB} canTest />);
    await user.click(screen.getByRole("button", { name: "Send a test notification" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("The test could not be sent: needs the developer role");
  });

  it("offers no test to a viewer, and says when there are no rules", () => {
    fakeApi(() => undefined, { role: "viewer" });
    const { unmount } = renderWithApp(<JobNotificationsCard job={JOB} canTest={false} />);
    expect(screen.queryByRole("button")).toBeNull();
    unmount();
    renderWithApp(<JobNotificationsCard job={jobFixture({ notifications: [] })} canTest={false} />);
    expect(screen.getByText(/No rules: nobody is notified/)).toBeInTheDocument();
  });
});
