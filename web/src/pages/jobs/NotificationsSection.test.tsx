import { render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { useState } from "react";
import { NotificationsSection } from "./NotificationsSection";
import { newNotificationRow, rowErrors, ruleToRow, rulesBody, type NotificationRow } from "./notifications";

/** The section with the form's state around it; `seen` gets the rows after each change. */
function Harness({
  initial = [],
  complaints = {},
  seen,
}: {
  initial?: NotificationRow[];
  /** The server's complaints by rule index, as a save answered them. */
  complaints?: Record<number, string>;
  seen: (rows: NotificationRow[]) => void;
}) {
  const [rows, setRows] = useState(initial);
  const [errors] = useState(() => rowErrors(complaints, initial));
  seen(rows);
  return (
    <NotificationsSection rows={rows} onChange={setRows} serverErrors={errors.byRow} serverOther={errors.other} />
  );
}

describe("NotificationsSection", () => {
  // Typing is slow on a busy machine: these tests type little and allow more than the default.
  const SLOW = 20_000;

  it(
    "adds a webhook rule with its URL, signing secret, events and branches",
    async () => {
      const user = userEvent.setup();
      let rows: NotificationRow[] = [];
      render(<Harness seen={(r) => (rows = r)} />);
      expect(screen.getByText(/No rules: nobody is notified/)).toBeInTheDocument();
      await user.click(screen.getByRole("button", { name: "+ Add notification rule" }));
      const rule = screen.getByRole("listitem", { name: "Notification rule 1" });
      // A new rule answers failures and fixes until told otherwise.
      expect(within(rule).getByRole("checkbox", { name: /^Failed/ })).toBeChecked();
      expect(within(rule).getByRole("checkbox", { name: /^Fixed/ })).toBeChecked();
      await user.selectOptions(within(rule).getByLabelText("Rule 1: type"), "webhook");
      await user.type(within(rule).getByLabelText(/^URL of rule 1/), "http://h/x");
      await user.type(within(rule).getByLabelText(/^Signing secret of rule 1/), "K");
      await user.type(within(rule).getByLabelText(/^Branches of rule 1/), "main, r/*");
      await user.click(within(rule).getByRole("checkbox", { name: /^Fixed/ }));
      await user.click(within(rule).getByRole("checkbox", { name: /^Started/ }));
      expect(rulesBody(rows)).toEqual([
        { type: "webhook", url: "http://h/x", signing_secret: "K", on: ["failure", "started"], branches: ["main", "r/*"] },
      ]);
    },
    SLOW,
  );

  it(
    "takes a plugin's type by hand with its settings as JSON, and removes a rule",
    async () => {
      const user = userEvent.setup();
      let rows: NotificationRow[] = [];
      const initial = [ruleToRow({ type: "email", to: ["a@example.com"] })];
      render(<Harness initial={initial} seen={(r) => (rows = r)} />);
      await user.click(screen.getByRole("button", { name: "+ Add notification rule" }));
      const rule = screen.getByRole("listitem", { name: "Notification rule 2" });
      await user.selectOptions(within(rule).getByLabelText("Rule 2: type"), "other");
      // An unnamed type is marked at once, next to the rule.
      expect(within(rule).getByRole("alert")).toHaveTextContent("Name the plugin's notification type.");
      await user.type(within(rule).getByLabelText(/^Type of rule 2/), "teams");
      const settings = within(rule).getByLabelText(/^Settings \(JSON object\) of rule 2/);
      await user.clear(settings);
      await user.click(settings);
      await user.paste('{"webhook_url_secret": "TEAMS_URL"}');
      expect(within(rule).queryByRole("alert")).toBeNull();
      await user.click(screen.getByRole("button", { name: "Remove notification rule 1" }));
      expect(rulesBody(rows)).toEqual([{ type: "teams", webhook_url_secret: "TEAMS_URL", on: ["failure", "fixed"] }]);
    },
    SLOW,
  );

  it("shows the server's complaint in the rule it names, and with it when rules move", async () => {
    const user = userEvent.setup();
    const initial = [
      ruleToRow({ type: "email", to: ["a@example.com"] }),
      ruleToRow({ type: "slack", webhook_url_secret: "NOPE" }),
    ];
    render(<Harness initial={initial} complaints={{ 1: "no secret named NOPE" }} seen={() => undefined} />);
    const second = screen.getByRole("listitem", { name: "Notification rule 2" });
    expect(within(second).getByRole("alert")).toHaveTextContent("no secret named NOPE");
    expect(within(second).getByLabelText(/^Webhook URL secret of rule 2/)).toHaveAccessibleDescription(
      /no secret named NOPE/,
    );
    const first = screen.getByRole("listitem", { name: "Notification rule 1" });
    expect(within(first).queryByRole("alert")).toBeNull();
    // Rule 1 removed, a rule added: the complaint stays with the Slack rule, now the first.
    await user.click(screen.getByRole("button", { name: "Remove notification rule 1" }));
    await user.click(screen.getByRole("button", { name: "+ Add notification rule" }));
    expect(within(screen.getByRole("listitem", { name: "Notification rule 1" })).getByRole("alert")).toHaveTextContent(
      "no secret named NOPE",
    );
    expect(within(screen.getByRole("listitem", { name: "Notification rule 2" })).queryByRole("alert")).toBeNull();
  });

  it("marks a rule just added only once it is edited or a save was tried", () => {
    const { rerender } = render(
      <NotificationsSection rows={[newNotificationRow()]} onChange={() => undefined} serverErrors={{}} />,
    );
    expect(screen.queryByRole("alert")).toBeNull();
    rerender(
      <NotificationsSection
        rows={[newNotificationRow()]}
        onChange={() => undefined}
        serverErrors={{}}
        error="Fix the notification rules marked above."
      />,
    );
    expect(screen.getByRole("alert")).toHaveTextContent("Give at least one address to mail.");
  });

  it("shows a complaint naming no rule of the form under the list", () => {
    const initial = [ruleToRow({ type: "email", to: ["a@example.com"] })];
    render(<Harness initial={initial} complaints={{ 20: "at most 20 rules" }} seen={() => undefined} />);
    expect(screen.getByRole("alert")).toHaveTextContent("at most 20 rules");
  });
});
