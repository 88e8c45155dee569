import { render, screen, within } from "@testing-library/react";
import { BuildNotifications } from "./BuildNotifications";
import type { NotificationDelivery } from "../jobs/notifications";

const NOW = Date.parse("2030-01-01T12:00:00Z");

// BuildRead.notifications[] as contract 3 of issue 17 has it.
function delivery(overrides: Partial<NotificationDelivery>): NotificationDelivery {
  return {
    id: "d1",
    rule: 0,
    type: "webhook",
    target: "https://hooks.example.com/solvyd",
    event: "build.finished",
    outcome: "failure",
    status: "sent",
    attempts: 1,
    last_error: null,
    created_at: "2030-01-01T11:58:00Z",
    sent_at: "2030-01-01T11:59:00Z",
    ...overrides,
  };
}

describe("BuildNotifications", () => {
  it("lists each delivery with its last error in the page, not only on hover", () => {
    render(
      <BuildNotifications
        now={NOW}
        deliveries={[
          delivery({}),
          delivery({
            id: "d2",
            type: "slack",
            target: "Slack (secret SLACK_URL)",
            status: "pending",
            attempts: 2,
            last_error: "Slack answered 503",
            sent_at: null,
          }),
          delivery({
            id: "d3",
            type: "email",
            target: "dev@example.com",
            event: "build.started",
            outcome: "started",
            status: "failed",
            attempts: 1,
            last_error: "550 no such user",
            sent_at: null,
          }),
        ]}
      />,
    );
    expect(screen.getByRole("alert")).toHaveTextContent("1 notification could not be delivered.");
    const rows = screen.getAllByRole("row").slice(1);
    expect(rows[0]).toHaveTextContent("webhookhttps://hooks.example.com/solvydbuild.finished (failure)sent1");
    expect(rows[0]).toHaveTextContent("1m ago");
    expect(within(rows[1]!).getByText("sending")).toBeInTheDocument();
    expect(rows[1]).toHaveTextContent("Slack (secret SLACK_URL)");
    expect(rows[2]).toHaveTextContent("Retrying after: Slack answered 503");
    expect(within(rows[3]!).getByText("failed")).toBeInTheDocument();
    expect(rows[3]).toHaveTextContent("build.started (started)");
    expect(rows[4]).toHaveTextContent("Last error: 550 no such user");
  });

  it("shows nothing for a build without notifications", () => {
    const { container } = render(<BuildNotifications now={NOW} deliveries={[]} />);
    expect(container).toBeEmptyDOMElement();
  });
});
