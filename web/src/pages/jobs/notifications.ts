// Pure logic of a job's notification rules: the form's rows and the API's rule objects, what is
// wrong with a row before the server is asked, which rule a 422 names, and how a rule, a test
// result and a build's delivery read. No React, no fetch: tested on its own.
import type { Build } from "../../api/client";
import type { paths } from "../../api/schema";

/** A rule as the API stores it: `type`, `on`, `branches` and the type's own settings. */
export type NotificationRule = { [key: string]: unknown };
export type NotificationDelivery = NonNullable<Build["notifications"]>[number];
type TestOperation = paths["/api/v1/jobs/{job_id}/notifications/test"]["post"];
export type NotificationTestAnswer = TestOperation["responses"][200]["content"]["application/json"];
export type NotificationTestResult = NotificationTestAnswer["results"][number];

export type NotifyEvent = "failure" | "fixed" | "success" | "started" | "cancelled" | "always";

export const NOTIFY_EVENTS: readonly { value: NotifyEvent; label: string }[] = [
  { value: "failure", label: "Failed (its steps or the infrastructure)" },
  { value: "fixed", label: "Fixed (a success after a failure on the branch)" },
  { value: "success", label: "Succeeded" },
  { value: "started", label: "Started" },
  { value: "cancelled", label: "Cancelled" },
  { value: "always", label: "Always" },
];

export const DEFAULT_ON: readonly NotifyEvent[] = ["failure", "fixed"];

export type BuiltInType = "email" | "slack" | "webhook";
/** "other": a type a plugin adds, typed by hand, its settings as a JSON object. */
export type RowKind = BuiltInType | "other";

export const RULE_KINDS: readonly { value: RowKind; label: string }[] = [
  { value: "email", label: "Email" },
  { value: "slack", label: "Slack" },
  { value: "webhook", label: "Webhook" },
  { value: "other", label: "Other (a plugin's type)" },
];

/** One rule of the form; `id` keeps React's keys stable while rows come and go. */
export interface NotificationRow {
  id: number;
  kind: RowKind;
  /** The type's name when `kind` is "other". */
  otherType: string;
  /** Email: addresses, comma separated. */
  to: string;
  /** Slack: the name of the secret holding the incoming-webhook URL. */
  slackSecret: string;
  /** Webhook: where to POST, and the name of the secret that signs it (optional). */
  url: string;
  signingSecret: string;
  /** A plugin type's own settings, a JSON object as typed. */
  settings: string;
  on: NotifyEvent[];
  /** Branch globs, comma separated; empty: every branch. */
  branches: string;
  /** Keys of a stored built-in rule the form has no field for, sent back as they were. */
  kept: NotificationRule;
  /** Changed since it was added or loaded: its problems are shown from then on. */
  edited?: boolean;
}

let nextRowId = 1;

export function newNotificationRow(fields: Partial<Omit<NotificationRow, "id">> = {}): NotificationRow {
  return {
    id: nextRowId++,
    kind: "email",
    otherType: "",
    to: "",
    slackSecret: "",
    url: "",
    signingSecret: "",
    settings: "{}",
    on: [...DEFAULT_ON],
    branches: "",
    kept: {},
    ...fields,
  };
}

const COMMON_KEYS = new Set(["type", "on", "branches"]);
const OWN_KEYS: Record<BuiltInType, readonly string[]> = {
  email: ["to"],
  slack: ["webhook_url_secret"],
  webhook: ["url", "signing_secret"],
};

function isBuiltIn(type: string): type is BuiltInType {
  return type === "email" || type === "slack" || type === "webhook";
}

function isEvent(event: unknown): event is NotifyEvent {
  return NOTIFY_EVENTS.some((known) => known.value === event);
}

function stringList(value: unknown): string[] {
  if (Array.isArray(value)) return value.map(String);
  return typeof value === "string" && value ? [value] : [];
}

function textOf(value: unknown): string {
  return typeof value === "string" ? value : "";
}

/** "a, b,,c" -> ["a", "b", "c"]: trimmed, no empties, no repeats. */
export function splitList(text: string): string[] {
  const items: string[] = [];
  for (const part of text.split(/[,\n]/)) {
    const item = part.trim();
    if (item && !items.includes(item)) items.push(item);
  }
  return items;
}

/** A stored rule as a row of the form. */
export function ruleToRow(rule: NotificationRule): NotificationRow {
  const type = textOf(rule.type);
  const on = Array.isArray(rule.on) ? rule.on.filter(isEvent) : [...DEFAULT_ON];
  const common = { on, branches: stringList(rule.branches).join(", ") };
  const rest = Object.fromEntries(Object.entries(rule).filter(([key]) => !COMMON_KEYS.has(key)));
  if (!isBuiltIn(type)) {
    return newNotificationRow({ kind: "other", otherType: type, settings: JSON.stringify(rest, null, 2), ...common });
  }
  const kept = Object.fromEntries(Object.entries(rest).filter(([key]) => !OWN_KEYS[type].includes(key)));
  return newNotificationRow({
    kind: type,
    to: stringList(rule.to).join(", "),
    slackSecret: textOf(rule.webhook_url_secret),
    url: textOf(rule.url),
    signingSecret: textOf(rule.signing_secret),
    kept,
    ...common,
  });
}

/** A plugin rule's settings as typed: an object, or what is wrong with the text. */
function parseSettings(text: string): { settings: NotificationRule; problem: string | null } {
  if (!text.trim()) return { settings: {}, problem: null };
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
      return { settings: {}, problem: 'The settings must be a JSON object, e.g. {"channel": "builds"}.' };
    }
    const settings = parsed as NotificationRule;
    const reserved = Object.keys(settings).find((key) => COMMON_KEYS.has(key));
    if (reserved) return { settings, problem: `Set "${reserved}" with the fields of the rule, not in its settings.` };
    return { settings, problem: null };
  } catch (error) {
    return { settings: {}, problem: `The settings are not JSON: ${error instanceof Error ? error.message : String(error)}` };
  }
}

/** The row as the API's rule object. */
export function rowToRule(row: NotificationRow): NotificationRule {
  const type = row.kind === "other" ? row.otherType.trim() : row.kind;
  const own: NotificationRule = {};
  if (row.kind === "email") own.to = splitList(row.to);
  if (row.kind === "slack") own.webhook_url_secret = row.slackSecret.trim();
  if (row.kind === "webhook") {
    own.url = row.url.trim();
    if (row.signingSecret.trim()) own.signing_secret = row.signingSecret.trim();
  }
  const settings = row.kind === "other" ? parseSettings(row.settings).settings : row.kept;
  // In the order of NOTIFY_EVENTS, so the body does not depend on the order of clicks.
  const on = NOTIFY_EVENTS.map((event) => event.value).filter((event) => row.on.includes(event));
  const rule: NotificationRule = { type, ...settings, ...own, on };
  const branches = splitList(row.branches);
  if (branches.length > 0) rule.branches = branches;
  return rule;
}

export function rulesBody(rows: readonly NotificationRow[]): NotificationRule[] {
  return rows.map(rowToRule);
}

const TYPE_NAME = /^[a-z][a-z0-9_.-]*$/;

/** What is wrong with each row (by row id) that the browser can tell without the server. */
export function notificationRowProblems(rows: readonly NotificationRow[]): Map<number, string> {
  const problems = new Map<number, string>();
  for (const row of rows) {
    const problem = rowProblem(row);
    if (problem) problems.set(row.id, problem);
  }
  return problems;
}

function rowProblem(row: NotificationRow): string | null {
  if (row.on.length === 0) return "Tick at least one event, or remove the rule.";
  switch (row.kind) {
    case "email":
      return splitList(row.to).length === 0 ? "Give at least one address to mail." : null;
    case "slack":
      return row.slackSecret.trim() ? null : "Name the job secret holding Slack's incoming-webhook URL.";
    case "webhook":
      return /^https?:\/\/\S+$/i.test(row.url.trim()) ? null : "Give the URL to POST to (http:// or https://).";
    case "other": {
      const type = row.otherType.trim();
      if (!type) return "Name the plugin's notification type.";
      if (isBuiltIn(type)) return `Choose ${type} from the list of types instead.`;
      if (!TYPE_NAME.test(type)) return "A type is lower-case letters, digits, _ . and -.";
      return parseSettings(row.settings).problem;
    }
  }
}

/**
 * The rule a server's complaint names (its index), or null. The API names it in the detail's
 * field ("notifications.2.to", "notifications[2]") or, for a check of the whole list, in the
 * message ("rule 2, to: ...", "notifications[2]: ...").
 */
export function ruleIndexOf(field: string, message: string): number | null {
  for (const text of [field, message]) {
    const found = /notifications(?:\[(\d+)\]|\.(\d+))/.exec(text);
    if (found) return Number(found[1] ?? found[2]);
  }
  const rule = /\brule (\d+)\b/i.exec(message);
  return rule ? Number(rule[1]) : null;
}

/**
 * One complaint of the server about the rules, split by the rule each part names: a check of
 * the whole list answers its problems in one message ("rule 0, to: ...; rule 2, type: ...").
 */
export function ruleComplaints(field: string, message: string): { rule: number | null; message: string }[] {
  const inField = /notifications(?:\[(\d+)\]|\.(\d+))/.exec(field);
  if (inField) return [{ rule: Number(inField[1] ?? inField[2]), message }];
  return message.split(/;\s+(?=rule \d|notifications[.[]\d)/i).map((part) => {
    const rule = ruleIndexOf("", part);
    // Shown inside the rule it names, whose number (from 1) is not the API's index (from 0).
    const shown = rule === null ? part : part.replace(/^(?:rule \d+,?|notifications(?:\[\d+\]|\.\d+)[.:]?)\s*/i, "");
    return { rule, message: shown || part };
  });
}

export interface RowErrors {
  /** Complaints by row id. */
  byRow: Record<number, string>;
  /** Complaints naming a rule the saved form did not have (e.g. "rule 20: at most 20 rules"). */
  other: string[];
}

/** The server's complaints by rule index, put on the rows that were saved. */
export function rowErrors(byIndex: Record<number, string>, saved: readonly NotificationRow[]): RowErrors {
  const result: RowErrors = { byRow: {}, other: [] };
  for (const [index, message] of Object.entries(byIndex)) {
    const row = saved[Number(index)];
    if (row) result.byRow[row.id] = message;
    else result.other.push(message);
  }
  return result;
}

/** Where a rule sends, in words; names a secret, never shows a value. */
export function ruleTarget(rule: NotificationRule): string {
  const type = textOf(rule.type);
  if (type === "email") return `to ${stringList(rule.to).join(", ")}`;
  if (type === "slack") return `webhook URL in secret ${textOf(rule.webhook_url_secret)}`;
  if (type === "webhook") {
    const secret = textOf(rule.signing_secret);
    const url = withoutQuery(textOf(rule.url));
    return secret ? `${url}, signed with secret ${secret}` : url;
  }
  return Object.entries(rule)
    .filter(([key]) => !COMMON_KEYS.has(key))
    .map(([key, value]) => `${key}=${JSON.stringify(value)}`)
    .join(", ");
}

/** A URL's query may carry the receiver's token: the page says where, not with what. */
export function withoutQuery(url: string): string {
  const at = url.search(/[?#]/);
  return at < 0 ? url : `${url.slice(0, at)}?…`;
}

export function ruleEvents(rule: NotificationRule): string[] {
  return Array.isArray(rule.on) ? rule.on.map(String) : [...DEFAULT_ON];
}

export function ruleBranches(rule: NotificationRule): string[] {
  return stringList(rule.branches);
}

export const DELIVERY_STATUS_WORDS: Record<NotificationDelivery["status"], string> = {
  pending: "sending",
  sent: "sent",
  failed: "failed",
};
