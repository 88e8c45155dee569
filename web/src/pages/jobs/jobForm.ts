// Pure logic of the jobs pages: labels, env rows, the trigger body, the job form's body and
// where the server's errors belong. No React, no fetch: tested on its own.
import { ApiError, type Job, type Schemas } from "../../api/client";

export type TriggerBody = Schemas["TriggerRequest"];
export type JobCreateBody = Schemas["JobCreate"];
export type JobUpdateBody = Schemas["JobUpdate"];

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
}

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
  };
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
    fork_secrets: false,
  };
  if (common.scm_url !== null) body.scm_url = common.scm_url;
  if (common.branch !== null) body.branch = common.branch;
  if (common.pipeline !== null) body.pipeline = common.pipeline;
  if (common.pipeline_path !== null) body.pipeline_path = common.pipeline_path;
  if (common.timeout_seconds !== null) body.timeout_seconds = common.timeout_seconds;
  if (common.max_concurrent_builds !== null) body.max_concurrent_builds = common.max_concurrent_builds;
  return body;
}

/** PATCH /jobs/{id}: every field of the form, null clearing what was emptied. */
export function jobUpdateBody(values: JobFormValues): JobUpdateBody {
  return commonBody(values);
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
]);

/** Puts each of the server's complaints next to the field it names. */
export function saveErrors(error: unknown): SaveErrors {
  const result: SaveErrors = { fields: {}, pipeline: [], form: null };
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
    const field = (detail.field ?? "").split(/[.[]/)[0] ?? "";
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
  else if (error.details.length === 0) result.form = error.message;
  return result;
}
