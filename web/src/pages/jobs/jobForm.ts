// Pure logic of the jobs pages: labels, env rows, the trigger body, the job form's body and
// where the server's errors belong. No React, no fetch: tested on its own.
import { ApiError, type Job, type Schemas } from "../../api/client";
import {
  notificationRowProblems,
  ruleComplaints,
  ruleToRow,
  rulesBody,
  type NotificationRow,
} from "./notifications";

export type TriggerBody = Schemas["TriggerRequest"];
export type JobCreateBody = Schemas["JobCreate"];
export type JobUpdateBody = Schemas["JobUpdate"];
export type ForgeSettings = Schemas["ForgeSettings"];
export type ForgeType = ForgeSettings["type"];
export type TriggerEvent = "push" | "tag" | "pull_request";
export type ScheduleBody = Schemas["Schedule"];

/** One row of an env editor; `id` keeps React's keys stable while rows come and go. */
export interface EnvRow {
  id: number;
  key: string;
  value: string;
}

let nextRowId = 1;

export function newEnvRow(key = "", value = ""): EnvRow {
  return { id: nextRowId++, key, value };
}

export function envToRows(env: Record<string, string> | null | undefined): EnvRow[] {
  return Object.entries(env ?? {}).map(([key, value]) => newEnvRow(key, value));
}

/** A variable name the shells of every executor accept. */
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** What is wrong with each row (by row id): a value without a name, a bad name, a repeat. */
export function envRowProblems(rows: EnvRow[]): Map<number, string> {
  const problems = new Map<number, string>();
  const seen = new Set<string>();
  for (const row of rows) {
    const key = row.key.trim();
    if (!key) {
      if (row.value !== "") problems.set(row.id, "This value needs a name.");
      continue;
    }
    if (!ENV_NAME.test(key)) {
      problems.set(row.id, "Use letters, digits and _ and do not start with a digit.");
    } else if (seen.has(key)) {
      problems.set(row.id, `${key} is set twice.`);
    }
    seen.add(key);
  }
  return problems;
}

/** The rows as an env object: rows without a name are left out; names are trimmed, values not. */
export function envRowsToObject(rows: EnvRow[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const row of rows) {
    const key = row.key.trim();
    if (key) env[key] = row.value;
  }
  return env;
}

/** "linux, docker,,gpu" -> ["linux", "docker", "gpu"]: trimmed, no empties, no repeats. */
export function parseLabels(text: string): string[] {
  const labels: string[] = [];
  for (const part of text.split(/[,\n]/)) {
    const label = part.trim();
    if (label && !labels.includes(label)) labels.push(label);
  }
  return labels;
}

export function formatLabels(labels: readonly string[]): string {
  return labels.join(", ");
}

export interface TriggerFields {
  branch: string;
  commitSha: string;
  env: EnvRow[];
}

/** The trigger request: a field left empty is left out, so the job's own default applies. */
export function buildTriggerBody(fields: TriggerFields): TriggerBody {
  const body: TriggerBody = {};
  const branch = fields.branch.trim();
  const commitSha = fields.commitSha.trim();
  const env = envRowsToObject(fields.env);
  if (branch) body.branch = branch;
  if (commitSha) body.commit_sha = commitSha;
  if (Object.keys(env).length > 0) body.env = env;
  return body;
}

export type PipelineSource = "inline" | "repository";

/** The job form as typed: text everywhere, turned into a request body by `jobBody`. */
export interface JobFormValues {
  name: string;
  description: string;
  scmUrl: string;
  branch: string;
  labels: string;
  maxRetries: string;
  timeoutSeconds: string;
  env: EnvRow[];
  pipelineSource: PipelineSource;
  pipeline: string;
  pipelinePath: string;
  priority: string;
  maxConcurrentBuilds: string;
  cancelPrevious: boolean;
  // Triggers and forges.
  triggerEvents: TriggerEvent[];
  /** Glob patterns, one a line. */
  branches: string;
  paths: string;
  /** A new webhook secret; empty keeps the one set (the server never shows it). */
  webhookSecret: string;
  forkSecrets: boolean;
  forkApproval: boolean;
  /** "" means no forge: no commit statuses. */
  forgeType: ForgeType | "";
  forgeApiUrl: string;
  forgeRepository: string;
  forgeTokenSecret: string;
  checkoutCredentials: string;
  schedules: ScheduleRow[];
  publicBadge: boolean;
  notifications: NotificationRow[];
}

export const TRIGGER_EVENTS: readonly { value: TriggerEvent; label: string }[] = [
  { value: "push", label: "Push to a branch" },
  { value: "tag", label: "Tag pushed" },
  { value: "pull_request", label: "Pull request opened, updated or reopened" },
];

export const FORGES: readonly { value: ForgeType; label: string }[] = [
  { value: "github", label: "GitHub" },
  { value: "gitlab", label: "GitLab" },
  { value: "gitea", label: "Gitea / Forgejo" },
  { value: "bitbucket", label: "Bitbucket Cloud" },
];

export function forgeLabel(forge: string): string {
  return FORGES.find((f) => f.value === forge)?.label ?? forge;
}

/** One schedule of the form; `env` is KEY=value lines. */
export interface ScheduleRow {
  id: number;
  cron: string;
  branch: string;
  timezone: string;
  env: string;
}

export function newScheduleRow(fields: Partial<Omit<ScheduleRow, "id">> = {}): ScheduleRow {
  return { id: nextRowId++, cron: "", branch: "", timezone: "", env: "", ...fields };
}

/** Text with one entry a line (globs): trimmed, no empties, no repeats. */
export function parseLines(text: string): string[] {
  const lines: string[] = [];
  for (const part of text.split("\n")) {
    const line = part.trim();
    if (line && !lines.includes(line)) lines.push(line);
  }
  return lines;
}

export function formatLines(lines: readonly string[] | null | undefined): string {
  return (lines ?? []).join("\n");
}

/** "A=1" lines as an env object, or the first line that is not KEY=value. */
export function parseEnvLines(text: string): { env: Record<string, string>; problem: string | null } {
  const env: Record<string, string> = {};
  for (const raw of text.split("\n")) {
    if (!raw.trim()) continue;
    const at = raw.indexOf("=");
    const key = at < 0 ? raw.trim() : raw.slice(0, at).trim();
    if (at < 0 || !ENV_NAME.test(key)) return { env, problem: `Not KEY=value: ${raw.trim()}` };
    env[key] = raw.slice(at + 1);
  }
  return { env, problem: null };
}

export function formatEnvLines(env: Record<string, string> | null | undefined): string {
  return Object.entries(env ?? {})
    .map(([key, value]) => `${key}=${value}`)
    .join("\n");
}

function scheduleIsEmpty(row: ScheduleRow): boolean {
  return !row.cron.trim() && !row.branch.trim() && !row.timezone.trim() && !row.env.trim();
}

/** The schedules to send: blank rows are left out, empty fields too. */
export function schedulesBody(rows: ScheduleRow[]): ScheduleBody[] {
  return rows
    .filter((row) => !scheduleIsEmpty(row))
    .map((row) => {
      const body: ScheduleBody = { cron: row.cron.trim(), timezone: "UTC" };
      const branch = row.branch.trim();
      const timezone = row.timezone.trim();
      const { env } = parseEnvLines(row.env);
      if (branch) body.branch = branch;
      if (timezone) body.timezone = timezone;
      if (Object.keys(env).length > 0) body.env = env;
      return body;
    });
}

/** What is wrong with each schedule row (by row id), before the server checks the cron text. */
export function scheduleRowProblems(rows: ScheduleRow[]): Map<number, string> {
  const problems = new Map<number, string>();
  for (const row of rows) {
    if (scheduleIsEmpty(row)) continue;
    if (!row.cron.trim()) problems.set(row.id, "A schedule needs a cron expression, e.g. 0 3 * * *.");
    else {
      const { problem } = parseEnvLines(row.env);
      if (problem) problems.set(row.id, problem);
    }
  }
  return problems;
}

/** The forge for commit statuses, or null when none is chosen. */
export function forgeBody(values: JobFormValues): ForgeSettings | null {
  if (!values.forgeType) return null;
  const forge: ForgeSettings = { type: values.forgeType, token_secret: values.forgeTokenSecret.trim() };
  const apiUrl = values.forgeApiUrl.trim();
  const repository = values.forgeRepository.trim();
  if (apiUrl) forge.api_url = apiUrl;
  if (repository) forge.repository = repository;
  return forge;
}

export const WEBHOOK_SECRET_MIN = 8;
export const WEBHOOK_SECRET_MAX = 256;

export const DEFAULT_PIPELINE_PATH = ".solvyd.yml";

export const STARTER_PIPELINE = `steps:
  - name: build
    commands:
      - echo "building $SOLVYD_BRANCH"
`;

export function emptyJobForm(): JobFormValues {
  return {
    name: "",
    description: "",
    scmUrl: "",
    branch: "",
    labels: "",
    maxRetries: "0",
    timeoutSeconds: "",
    env: [],
    pipelineSource: "inline",
    pipeline: STARTER_PIPELINE,
    pipelinePath: "",
    priority: "0",
    maxConcurrentBuilds: "",
    cancelPrevious: false,
    triggerEvents: TRIGGER_EVENTS.map((event) => event.value),
    branches: "",
    paths: "",
    webhookSecret: "",
    forkSecrets: false,
    forkApproval: false,
    forgeType: "",
    forgeApiUrl: "",
    forgeRepository: "",
    forgeTokenSecret: "",
    checkoutCredentials: "",
    schedules: [],
    publicBadge: false,
    notifications: [],
  };
}

function isTriggerEvent(event: string): event is TriggerEvent {
  return TRIGGER_EVENTS.some((known) => known.value === event);
}

export function jobToForm(job: Job): JobFormValues {
  const inRepository = job.pipeline === null && job.build_config === null && Boolean(job.scm_url);
  return {
    name: job.name,
    description: job.description,
    scmUrl: job.scm_url ?? "",
    branch: job.branch ?? "",
    labels: formatLabels(job.labels),
    maxRetries: String(job.max_retries),
    timeoutSeconds: job.timeout_seconds === null ? "" : String(job.timeout_seconds),
    env: envToRows(job.env),
    pipelineSource: inRepository ? "repository" : "inline",
    pipeline: job.pipeline ?? "",
    pipelinePath: inRepository ? (job.pipeline_path ?? "") : "",
    priority: String(job.priority),
    maxConcurrentBuilds: job.max_concurrent_builds === null ? "" : String(job.max_concurrent_builds),
    cancelPrevious: job.cancel_previous,
    triggerEvents: (job.trigger_events ?? []).filter(isTriggerEvent),
    branches: formatLines(job.branches),
    paths: formatLines(job.paths),
    webhookSecret: "",
    forkSecrets: job.fork_secrets ?? job.secrets_for_forks,
    forkApproval: job.fork_approval ?? false,
    forgeType: job.forge?.type ?? "",
    forgeApiUrl: job.forge?.api_url ?? "",
    forgeRepository: job.forge?.repository ?? "",
    forgeTokenSecret: job.forge?.token_secret ?? "",
    checkoutCredentials: job.checkout_credentials ?? "",
    schedules: (job.schedules ?? []).map((schedule) =>
      newScheduleRow({
        cron: schedule.cron,
        branch: schedule.branch ?? "",
        timezone: schedule.timezone ?? "",
        env: formatEnvLines(schedule.env),
      }),
    ),
    publicBadge: job.public_badge ?? false,
    notifications: (job.notifications ?? []).map(ruleToRow),
  };
}

/** A whole number typed in a field: null when empty, NaN when not a whole number. */
export function parseWholeNumber(text: string): number | null {
  const trimmed = text.trim();
  if (!trimmed) return null;
  return /^-?\d+$/.test(trimmed) ? Number(trimmed) : Number.NaN;
}

/** Problems the browser can tell before asking the server, by form field. */
export function checkJobForm(values: JobFormValues, creating: boolean): Record<string, string> {
  const problems: Record<string, string> = {};
  if (creating && !values.name.trim()) problems.name = "A job needs a name.";
  for (const [field, text] of [
    ["max_retries", values.maxRetries],
    ["timeout_seconds", values.timeoutSeconds],
    ["priority", values.priority],
    ["max_concurrent_builds", values.maxConcurrentBuilds],
  ] as const) {
    if (Number.isNaN(parseWholeNumber(text))) problems[field] = "Enter a whole number.";
  }
  if (values.pipelineSource === "repository" && !values.scmUrl.trim()) {
    problems.scm_url = "A pipeline read from the repository needs the repository's URL.";
  }
  if (values.pipelineSource === "inline" && !values.pipeline.trim()) {
    problems.pipeline = "Write the pipeline, or read it from the repository.";
  }
  if (envRowProblems(values.env).size > 0) problems.env = "Fix the variables marked above.";
  const secret = values.webhookSecret;
  if (secret && (secret.length < WEBHOOK_SECRET_MIN || secret.length > WEBHOOK_SECRET_MAX)) {
    problems.webhook_secret = `A webhook secret has ${WEBHOOK_SECRET_MIN} to ${WEBHOOK_SECRET_MAX} characters.`;
  }
  if (values.forgeType && !values.forgeTokenSecret.trim()) {
    problems.forge = "Name the job secret that holds the forge's API token.";
  } else if (values.forgeType === "gitea" && !values.forgeApiUrl.trim()) {
    problems.forge = "Gitea and Forgejo need the API URL, e.g. https://gitea.example.com/api/v1.";
  }
  if (scheduleRowProblems(values.schedules).size > 0) problems.schedules = "Fix the schedules marked above.";
  if (notificationRowProblems(values.notifications).size > 0) {
    problems.notifications = "Fix the notification rules marked above.";
  }
  return problems;
}

function text(value: string): string | null {
  const trimmed = value.trim();
  return trimmed ? trimmed : null;
}

/** The fields create and update share; empty text means "none" (null). */
function commonBody(values: JobFormValues) {
  const inline = values.pipelineSource === "inline";
  return {
    description: values.description.trim(),
    scm_url: text(values.scmUrl),
    branch: text(values.branch),
    pipeline: inline ? values.pipeline : null,
    pipeline_path: inline ? null : (text(values.pipelinePath) ?? DEFAULT_PIPELINE_PATH),
    labels: parseLabels(values.labels),
    max_retries: parseWholeNumber(values.maxRetries) ?? 0,
    timeout_seconds: parseWholeNumber(values.timeoutSeconds),
    env: envRowsToObject(values.env),
    priority: parseWholeNumber(values.priority) ?? 0,
    max_concurrent_builds: parseWholeNumber(values.maxConcurrentBuilds),
    cancel_previous: values.cancelPrevious,
    trigger_events: values.triggerEvents,
    branches: parseLines(values.branches),
    paths: parseLines(values.paths),
    fork_secrets: values.forkSecrets,
    fork_approval: values.forkApproval,
    forge: forgeBody(values),
    checkout_credentials: text(values.checkoutCredentials),
    schedules: schedulesBody(values.schedules),
    public_badge: values.publicBadge,
    notifications: rulesBody(values.notifications),
  };
}

/** POST /jobs: what is null (left empty) is left out, so the server's defaults apply. */
export function jobCreateBody(values: JobFormValues): JobCreateBody {
  const common = commonBody(values);
  const body: JobCreateBody = {
    name: values.name.trim(),
    description: common.description,
    labels: common.labels,
    env: common.env,
    max_retries: common.max_retries,
    priority: common.priority,
    cancel_previous: common.cancel_previous,
    trigger_events: common.trigger_events,
    branches: common.branches,
    paths: common.paths,
    fork_secrets: common.fork_secrets,
    fork_approval: common.fork_approval,
    schedules: common.schedules,
    public_badge: common.public_badge,
    notifications: common.notifications,
  };
  if (common.forge !== null) body.forge = common.forge;
  if (common.checkout_credentials !== null) body.checkout_credentials = common.checkout_credentials;
  if (values.webhookSecret) body.webhook_secret = values.webhookSecret;
  if (common.scm_url !== null) body.scm_url = common.scm_url;
  if (common.branch !== null) body.branch = common.branch;
  if (common.pipeline !== null) body.pipeline = common.pipeline;
  if (common.pipeline_path !== null) body.pipeline_path = common.pipeline_path;
  if (common.timeout_seconds !== null) body.timeout_seconds = common.timeout_seconds;
  if (common.max_concurrent_builds !== null) body.max_concurrent_builds = common.max_concurrent_builds;
  return body;
}

/**
 * PATCH /jobs/{id}: every field of the form, null clearing what was emptied. The webhook secret
 * is sent only when a new one was typed: an empty field keeps the one set (removing it is its
 * own action, which sends null).
 */
export function jobUpdateBody(values: JobFormValues): JobUpdateBody {
  const body: JobUpdateBody = commonBody(values);
  if (values.webhookSecret) body.webhook_secret = values.webhookSecret;
  return body;
}

export interface PipelineProblem {
  line: number | null;
  column: number | null;
  field: string;
  message: string;
}

export interface SaveErrors {
  /** Messages by form field (name, scm_url, branch, labels, env, pipeline, ...). */
  fields: Record<string, string>;
  /** Problems the server found in the pipeline text, with their place. */
  pipeline: PipelineProblem[];
  /** What belongs to no field. */
  form: string | null;
  /** The server's complaints about one notification rule, by its index. */
  rules: Record<number, string>;
}

const FORM_FIELDS = new Set([
  "name",
  "description",
  "scm_url",
  "branch",
  "labels",
  "max_retries",
  "timeout_seconds",
  "env",
  "pipeline",
  "pipeline_path",
  "priority",
  "max_concurrent_builds",
  "cancel_previous",
  "trigger_events",
  "branches",
  "paths",
  "webhook_secret",
  "fork_secrets",
  "secrets_for_forks",
  "fork_approval",
  "forge",
  "checkout_credentials",
  "schedules",
  "public_badge",
  "notifications",
]);

function addTo<K extends string | number>(messages: Record<K, string>, key: K, message: string) {
  messages[key] = messages[key] ? `${messages[key]} ${message}` : message;
}

/** Puts each of the server's complaints next to the field it names. */
export function saveErrors(error: unknown): SaveErrors {
  const result: SaveErrors = { fields: {}, pipeline: [], form: null, rules: {} };
  if (!(error instanceof ApiError)) {
    result.form = error instanceof Error ? error.message : String(error);
    return result;
  }
  if (error.status === 409 && error.code === "conflict" && /name/i.test(error.message)) {
    result.fields.name = error.message;
    return result;
  }
  const leftOver: string[] = [];
  for (const detail of error.details) {
    const message = detail.message ?? "";
    if ("line" in detail) {
      // A problem inside the pipeline text, placed by line and column.
      result.pipeline.push({
        line: detail.line ?? null,
        column: detail.column ?? null,
        field: detail.field ?? "",
        message,
      });
      continue;
    }
    const named = (detail.field ?? "").split(/[.[]/)[0] ?? "";
    if (named === "notifications") {
      for (const part of ruleComplaints(detail.field ?? "", message)) {
        if (part.rule === null) addTo(result.fields, "notifications", part.message);
        else addTo(result.rules, part.rule, part.message);
      }
      continue;
    }
    // The old name of fork_secrets is shown on the same checkbox.
    const field = named === "secrets_for_forks" ? "fork_secrets" : named;
    if (FORM_FIELDS.has(field)) {
      result.fields[field] = result.fields[field] ? `${result.fields[field]} ${message}` : message;
    } else {
      leftOver.push(detail.field ? `${detail.field}: ${message}` : message);
    }
  }
  if (result.pipeline.length > 0 && !result.fields.pipeline) {
    result.fields.pipeline = "The server refused the pipeline: see the problems listed under it.";
  }
  if (leftOver.length > 0) result.form = leftOver.join(" ");
  else if (error.details.length === 0) {
    // A service's check may answer a message only: it still names the rule.
    const parts = /notifications|\brule \d/.test(error.message) ? ruleComplaints("", error.message) : [];
    if (!parts.some((part) => part.rule !== null)) result.form = error.message;
    for (const part of parts) {
      if (part.rule === null) addTo(result.fields, "notifications", part.message);
      else addTo(result.rules, part.rule, part.message);
    }
  }
  if (Object.keys(result.rules).length > 0 && !result.fields.notifications) {
    result.fields.notifications = "The server refused a notification rule: see the rules marked above.";
  }
  return result;
}
