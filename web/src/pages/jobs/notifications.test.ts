import { ApiError } from "../../api/client";
import { jobFixture } from "../../test/fixtures";
import { checkJobForm, emptyJobForm, jobCreateBody, jobToForm, jobUpdateBody, saveErrors } from "./jobForm";
import {
  newNotificationRow,
  notificationRowProblems,
  ruleIndexOf,
  ruleTarget,
  ruleToRow,
  rowToRule,
  type NotificationRule,
} from "./notifications";

// Rules as the API stores them (contract 3 of issue 17: the keys of docs/notifications.md).
const EMAIL: NotificationRule = { type: "email", to: ["dev@example.com", "ops@example.com"], on: ["failure", "fixed"] };
const SLACK: NotificationRule = {
  type: "slack",
  webhook_url_secret: "SLACK_URL",
  on: ["failure", "success"],
  branches: ["main", "release/*"],
};
const WEBHOOK: NotificationRule = {
  type: "webhook",
  url: "https://hooks.example.com/solvyd",
  signing_secret: "HOOK_KEY",
  on: ["started", "always"],
};
const PLUGIN: NotificationRule = { type: "discord", channel: "builds", mention: ["@here"], on: ["failure"] };

describe("notification rules in the job form", () => {
  it("edits a stored rule and sends it back as it was", () => {
    for (const rule of [EMAIL, SLACK, WEBHOOK, PLUGIN]) {
      expect(rowToRule(ruleToRow(rule))).toEqual(rule);
    }
  });

  it("keeps keys of a built-in rule the form has no field for", () => {
    const rule = { ...WEBHOOK, timeout_seconds: 5 };
    expect(rowToRule({ ...ruleToRow(rule), url: "https://other.example.com/" })).toEqual({
      ...rule,
      url: "https://other.example.com/",
    });
  });

  it("starts a new rule on failure and fixed, and sends the events in a fixed order", () => {
    const row = newNotificationRow({ kind: "email", to: " a@example.com, ,b@example.com,a@example.com " });
    expect(rowToRule(row)).toEqual({ type: "email", to: ["a@example.com", "b@example.com"], on: ["failure", "fixed"] });
    expect(rowToRule({ ...row, on: ["always", "started", "failure"] }).on).toEqual(["failure", "started", "always"]);
  });

  it("leaves an empty signing secret and empty branches out", () => {
    const row = newNotificationRow({ kind: "webhook", url: " http://127.0.0.1:9/h ", branches: " , " });
    expect(rowToRule(row)).toEqual({ type: "webhook", url: "http://127.0.0.1:9/h", on: ["failure", "fixed"] });
  });

  it("says what is wrong with each rule before asking the server", () => {
    const rows = [
      newNotificationRow({ kind: "email", to: " , " }),
      newNotificationRow({ kind: "slack" }),
      newNotificationRow({ kind: "webhook", url: "ftp://x" }),
      newNotificationRow({ kind: "other", otherType: "" }),
      newNotificationRow({ kind: "other", otherType: "slack" }),
      newNotificationRow({ kind: "other", otherType: "teams", settings: "[1]" }),
      newNotificationRow({ kind: "other", otherType: "teams", settings: "{" }),
      newNotificationRow({ kind: "other", otherType: "teams", settings: '{"on": []}' }),
      newNotificationRow({ kind: "email", to: "a@x", on: [] }),
      newNotificationRow({ kind: "other", otherType: "teams", settings: '{"url_secret": "T"}' }),
    ];
    const problems = notificationRowProblems(rows);
    expect(rows.map((row) => problems.get(row.id) ?? null)).toEqual([
      "Give at least one address to mail.",
      "Name the job secret holding Slack's incoming-webhook URL.",
      "Give the URL to POST to (http:// or https://).",
      "Name the plugin's notification type.",
      "Choose slack from the list of types instead.",
      'The settings must be a JSON object, e.g. {"channel": "builds"}.',
      expect.stringMatching(/^The settings are not JSON: /),
      'Set "on" with the fields of the rule, not in its settings.',
      "Tick at least one event, or remove the rule.",
      null,
    ]);
    const values = { ...emptyJobForm(), name: "api", notifications: rows };
    expect(checkJobForm(values, true).notifications).toBe("Fix the notification rules marked above.");
  });

  it("goes into the create and update bodies, and comes back from the job", () => {
    const job = jobFixture({ notifications: [EMAIL, PLUGIN] });
    const values = jobToForm(job);
    expect(values.notifications.map((row) => row.kind)).toEqual(["email", "other"]);
    expect(jobCreateBody(values).notifications).toEqual([EMAIL, PLUGIN]);
    expect(jobUpdateBody({ ...values, notifications: [] }).notifications).toEqual([]);
    expect(jobToForm(jobFixture()).notifications).toEqual([]);
  });
});

describe("the server's complaints about a rule", () => {
  it("finds the rule's index in the field or the message", () => {
    expect(ruleIndexOf("notifications.2.to", "not an address")).toBe(2);
    expect(ruleIndexOf("notifications[1].url", "bad URL")).toBe(1);
    expect(ruleIndexOf("notifications", "Value error, notifications[3]: unknown type 'teams'")).toBe(3);
    expect(ruleIndexOf("notifications", "rule 0: to needs an address")).toBe(0);
    expect(ruleIndexOf("notifications", "too many rules")).toBeNull();
  });

  it("puts each complaint on its rule and marks the section", () => {
    const errors = saveErrors(
      new ApiError("invalid", 422, "invalid", [
        { field: "notifications.1.webhook_url_secret", message: "no secret named SLACK_URL" },
        { field: "notifications", message: "notifications[0].to: 'x' is not an address" },
        { field: "notifications", message: "at most 20 rules" },
      ]),
    );
    expect(errors.rules).toEqual({ 1: "no secret named SLACK_URL", 0: "to: 'x' is not an address" });
    expect(errors.fields.notifications).toBe("at most 20 rules");
    expect(errors.form).toBeNull();
  });

  it("splits one message naming several rules, as a check of the whole list answers", () => {
    const errors = saveErrors(
      new ApiError("notifications: rule 0, to: must not be empty; rule 2, type: must be one of email", 422, "invalid", [
        { field: "notifications", message: "rule 0, to: must not be empty; rule 2, type: must be one of email, slack" },
      ]),
    );
    // Shown in the rule it names, without the API's index (the form counts from 1).
    expect(errors.rules).toEqual({ 0: "to: must not be empty", 2: "type: must be one of email, slack" });
    expect(errors.fields.notifications).toMatch(/refused a notification rule/);
  });

  it("reads a message-only answer that names a rule", () => {
    const errors = saveErrors(new ApiError("notifications[2]: unknown notification type 'teams'", 422, "invalid"));
    expect(errors.rules).toEqual({ 2: "unknown notification type 'teams'" });
    expect(errors.form).toBeNull();
  });
});

describe("a rule in words", () => {
  it("names where it sends and the secrets by name", () => {
    expect(ruleTarget(EMAIL)).toBe("to dev@example.com, ops@example.com");
    expect(ruleTarget(SLACK)).toBe("webhook URL in secret SLACK_URL");
    expect(ruleTarget(WEBHOOK)).toBe("https://hooks.example.com/solvyd, signed with secret HOOK_KEY");
    // A receiver's token in the query is not shown on the page.
    expect(ruleTarget({ type: "webhook", url: "https://h.example.com/in?token=abc" })).toBe("https://h.example.com/in?…");
    expect(ruleTarget(PLUGIN)).toBe('channel="builds", mention=["@here"]');
  });
});
