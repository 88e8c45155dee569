// /jobs/new and /jobs/:jobId/edit: one form. The pipeline is checked by the server as it is
// typed; on save, each of the server's complaints is shown beside the field it names.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { Link, useNavigate, useParams } from "react-router";
import { api, errorText, unwrap, type Job } from "../../api/client";
import { useAuth } from "../../auth/AuthProvider";
import { EnvRowsEditor } from "./EnvRowsEditor";
import { Field } from "./Field";
import {
  checkJobForm,
  DEFAULT_PIPELINE_PATH,
  emptyJobForm,
  jobCreateBody,
  jobToForm,
  jobUpdateBody,
  parseLabels,
  saveErrors,
  STARTER_PIPELINE,
  type JobFormValues,
  type PipelineSource,
  type SaveErrors,
} from "./jobForm";
import { rowErrors, type RowErrors } from "./notifications";
import { NotificationsSection } from "./NotificationsSection";
import { PipelineEditor } from "./PipelineEditor";
import { TriggersSection } from "./TriggersSection";
import { usePipelineValidation } from "./usePipelineValidation";
import { WithJob } from "./WithJob";
import "./jobs.css";

export function JobEditPage() {
  const { jobId } = useParams();
  const { can } = useAuth();
  if (!can("developer")) {
    return (
      <section>
        <h1>{jobId ? "Edit job" : "New job"}</h1>
        <p className="error" role="alert">
          Creating and editing jobs needs the developer role. Ask an admin for it.
        </p>
        <p>
          <Link to={jobId ? `/jobs/${jobId}` : "/jobs"}>Back</Link>
        </p>
      </section>
    );
  }
  if (!jobId) return <JobForm initial={emptyJobForm()} />;
  return <EditJob jobId={jobId} />;
}

function EditJob({ jobId }: { jobId: string }) {
  // Keyed by the job: a refetch in the background never overwrites what is being typed.
  return <WithJob jobId={jobId}>{(job) => <JobForm key={job.id} job={job} initial={jobToForm(job)} />}</WithJob>;
}

/** Where each field the server may name lives in the form, to focus the first one at fault. */
const INPUT_IDS: Record<string, string> = {
  name: "job-name",
  description: "job-description",
  scm_url: "job-scm-url",
  branch: "job-branch",
  labels: "job-labels",
  max_retries: "job-max-retries",
  timeout_seconds: "job-timeout",
  pipeline: "job-pipeline",
  pipeline_path: "job-pipeline-path",
  priority: "job-priority",
  max_concurrent_builds: "job-max-concurrent",
  branches: "job-branches",
  paths: "job-paths",
  webhook_secret: "job-webhook-secret",
  forge: "job-forge-type",
  checkout_credentials: "job-checkout-credentials",
};

const NO_ERRORS: SaveErrors = { fields: {}, pipeline: [], form: null, rules: {} };
const NO_ROW_ERRORS: RowErrors = { byRow: {}, other: [] };

function JobForm({ job, initial }: { job?: Job; initial: JobFormValues }) {
  const creating = job === undefined;
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const [values, setValues] = useState(initial);
  const [problems, setProblems] = useState<Record<string, string>>({});
  const [server, setServer] = useState<SaveErrors>(NO_ERRORS);
  // The server names a rule by its index when saved: kept by row, so adding or removing a rule
  // afterwards does not move a complaint onto another rule.
  const [ruleErrors, setRuleErrors] = useState<RowErrors>(NO_ROW_ERRORS);
  const [submittedPipeline, setSubmittedPipeline] = useState<string | null>(null);
  const inline = values.pipelineSource === "inline";
  const validation = usePipelineValidation(values.pipeline, inline);

  const set = <K extends keyof JobFormValues>(field: K, value: JobFormValues[K]) =>
    setValues((current) => ({ ...current, [field]: value }));

  const save = useMutation({
    mutationFn: async (form: JobFormValues): Promise<Job> => {
      if (job) {
        return unwrap(
          await api.PATCH("/api/v1/jobs/{job_id}", {
            params: { path: { job_id: job.id } },
            body: jobUpdateBody(form),
          }),
        );
      }
      return unwrap(await api.POST("/api/v1/jobs", { body: jobCreateBody(form) }));
    },
    onSuccess: (saved) => {
      queryClient.setQueryData(["jobs", saved.id], saved);
      void queryClient.invalidateQueries({ queryKey: ["jobs"] });
      void queryClient.invalidateQueries({ queryKey: ["stats"] });
      navigate(`/jobs/${saved.id}`);
    },
    onError: (error, form) => {
      const errors = saveErrors(error);
      setServer(errors);
      setRuleErrors(rowErrors(errors.rules, form.notifications));
      focusFirst(Object.keys(errors.fields));
    },
  });

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const found = checkJobForm(values, creating);
    setProblems(found);
    setServer(NO_ERRORS);
    setRuleErrors(NO_ROW_ERRORS);
    if (Object.keys(found).length > 0) {
      focusFirst(Object.keys(found));
      return;
    }
    setSubmittedPipeline(values.pipeline);
    save.mutate(values);
  };

  // The browser's own check comes first; the server's answer to the last save next.
  const error = (field: string): string | undefined => problems[field] ?? server.fields[field];

  const result = validation.result;
  const liveErrors = result?.errors ?? [];
  // Until the live check has answered for this text, show what the save said about it.
  const pipelineErrors =
    !validation.current && submittedPipeline === values.pipeline && server.pipeline.length > 0
      ? server.pipeline
      : liveErrors;

  const setSource = (source: PipelineSource) => {
    setValues((current) => ({
      ...current,
      pipelineSource: source,
      pipeline: source === "inline" && !current.pipeline.trim() ? STARTER_PIPELINE : current.pipeline,
    }));
  };

  const labels = parseLabels(values.labels);
  // Open when the job already uses these settings, so nothing set is hidden.
  const [advancedOpen] = useState(
    initial.priority !== "0" || initial.maxConcurrentBuilds !== "" || initial.cancelPrevious,
  );
  const title = creating ? "New job" : `Edit ${job.name}`;
  const backTo = creating ? "/jobs" : `/jobs/${job.id}`;

  return (
    <section aria-labelledby="job-form-title" className="jobs-ui job-edit">
      <p className="small breadcrumb">
        <Link to="/jobs">Jobs</Link> <span aria-hidden="true">/</span>{" "}
        {!creating && (
          <>
            <Link to={backTo}>{job.name}</Link> <span aria-hidden="true">/</span>
          </>
        )}
      </p>
      <h1 id="job-form-title">{title}</h1>
      <form className="job-form" onSubmit={submit} noValidate>
        <div className="card form-section">
          <h2 className="card-title">Job</h2>
          <div className="form-grid">
            {creating ? (
              <Field
                id="job-name"
                label="Name"
                hint="Letters, digits, . _ and -; unique. The CLI finds the job by it."
                error={error("name")}
              >
                {(describedBy, invalid) => (
                  <input
                    id="job-name"
                    value={values.name}
                    required
                    autoComplete="off"
                    spellCheck={false}
                    aria-describedby={describedBy}
                    aria-invalid={invalid}
                    onChange={(e) => set("name", e.target.value)}
                  />
                )}
              </Field>
            ) : (
              <div className="field">
                <span className="field-label">Name</span>
                <p className="mono readonly">{job.name}</p>
                <p className="muted small">A job's name cannot be changed.</p>
              </div>
            )}
            <Field id="job-description" label="Description" optional error={error("description")}>
              {(describedBy, invalid) => (
                <input
                  id="job-description"
                  value={values.description}
                  autoComplete="off"
                  aria-describedby={describedBy}
                  aria-invalid={invalid}
                  onChange={(e) => set("description", e.target.value)}
                />
              )}
            </Field>
            <Field
              id="job-scm-url"
              label="Repository"
              optional={inline}
              hint={
                inline
                  ? "The git URL builds clone, e.g. https://git.example.com/team/app.git. Empty: builds start in an empty workspace."
                  : "The git URL builds clone, e.g. https://git.example.com/team/app.git. Required: the pipeline file is read from it."
              }
              error={error("scm_url")}
            >
              {(describedBy, invalid) => (
                <input
                  id="job-scm-url"
                  className="mono"
                  value={values.scmUrl}
                  inputMode="url"
                  autoComplete="off"
                  spellCheck={false}
                  aria-describedby={describedBy}
                  aria-invalid={invalid}
                  onChange={(e) => set("scmUrl", e.target.value)}
                />
              )}
            </Field>
            <Field
              id="job-branch"
              label="Branch"
              optional
              hint="Built when a trigger names none. Empty: the repository's default branch."
              error={error("branch")}
            >
              {(describedBy, invalid) => (
                <input
                  id="job-branch"
                  className="mono"
                  value={values.branch}
                  autoComplete="off"
                  spellCheck={false}
                  aria-describedby={describedBy}
                  aria-invalid={invalid}
                  onChange={(e) => set("branch", e.target.value)}
                />
              )}
            </Field>
          </div>
        </div>

        <div className="card form-section">
          <h2 className="card-title">Pipeline</h2>
          <fieldset className="source-choice">
            <legend>Where the pipeline comes from</legend>
            <label className="checkbox">
              <input
                type="radio"
                name="pipeline-source"
                value="inline"
                checked={inline}
                onChange={() => setSource("inline")}
              />
              <span>Written here, stored with the job</span>
            </label>
            <label className="checkbox">
              <input
                type="radio"
                name="pipeline-source"
                value="repository"
                checked={!inline}
                onChange={() => setSource("repository")}
              />
              <span>
                A file in the repository (e.g. <span className="mono">{DEFAULT_PIPELINE_PATH}</span>), read at each
                build's commit
              </span>
            </label>
          </fieldset>
          {inline ? (
            <PipelineEditor
              id="job-pipeline"
              label="Pipeline (YAML)"
              hint={
                <>
                  Checked by the server as you type.{" "}
                  {values.scmUrl.trim()
                    ? `Stored with the job: the repository's ${DEFAULT_PIPELINE_PATH} is not read.`
                    : "No repository: the steps run in an empty workspace."}
                </>
              }
              value={values.pipeline}
              onChange={(text) => set("pipeline", text)}
              errors={pipelineErrors}
              status={<ValidationStatus validation={validation} empty={!values.pipeline.trim()} />}
              fieldError={error("pipeline")}
            />
          ) : (
            <Field
              id="job-pipeline-path"
              label="Pipeline file"
              optional
              hint={`A path in the repository; empty means ${DEFAULT_PIPELINE_PATH}. Each build reads it at the commit it builds, so a broken file shows up as a failed build.`}
              error={error("pipeline_path")}
            >
              {(describedBy, invalid) => (
                <input
                  id="job-pipeline-path"
                  className="mono"
                  value={values.pipelinePath}
                  placeholder={DEFAULT_PIPELINE_PATH}
                  autoComplete="off"
                  spellCheck={false}
                  aria-describedby={describedBy}
                  aria-invalid={invalid}
                  onChange={(e) => set("pipelinePath", e.target.value)}
                />
              )}
            </Field>
          )}
        </div>

        <div className="card form-section">
          <h2 className="card-title">Running</h2>
          <div className="form-grid">
            <Field
              id="job-labels"
              label="Labels"
              optional
              hint="Comma separated. Only workers that have every label run this job, e.g. linux, docker."
              error={error("labels")}
              after={
                labels.length > 0 && (
                  <ul className="labels labels-preview" aria-label="Labels as they will be saved">
                    {labels.map((label) => (
                      <li key={label} className="label-chip">
                        {label}
                      </li>
                    ))}
                  </ul>
                )
              }
            >
              {(describedBy, invalid) => (
                <input
                  id="job-labels"
                  value={values.labels}
                  autoComplete="off"
                  spellCheck={false}
                  aria-describedby={describedBy}
                  aria-invalid={invalid}
                  onChange={(e) => set("labels", e.target.value)}
                />
              )}
            </Field>
            <Field
              id="job-max-retries"
              label="Max retries"
              hint="0 to 10: how often a build lost with its worker is queued again."
              error={error("max_retries")}
            >
              {(describedBy, invalid) => (
                <input
                  id="job-max-retries"
                  type="number"
                  inputMode="numeric"
                  min={0}
                  max={10}
                  value={values.maxRetries}
                  aria-describedby={describedBy}
                  aria-invalid={invalid}
                  onChange={(e) => set("maxRetries", e.target.value)}
                />
              )}
            </Field>
            <Field
              id="job-timeout"
              label="Timeout (seconds)"
              optional
              hint="A build running longer is stopped. Empty: the server's default."
              error={error("timeout_seconds")}
            >
              {(describedBy, invalid) => (
                <input
                  id="job-timeout"
                  type="number"
                  inputMode="numeric"
                  min={1}
                  value={values.timeoutSeconds}
                  aria-describedby={describedBy}
                  aria-invalid={invalid}
                  onChange={(e) => set("timeoutSeconds", e.target.value)}
                />
              )}
            </Field>
          </div>
          <EnvRowsEditor
            legend="Environment variables"
            idPrefix="job-env"
            rows={values.env}
            onChange={(rows) => set("env", rows)}
            hint="Set in every step of every build. Stored in plain text: put passwords and tokens in secrets instead."
            error={error("env")}
          />
          <details className="advanced" open={advancedOpen || Boolean(error("priority") || error("max_concurrent_builds"))}>
            <summary>
              Scheduling <span className="muted optional">priority, concurrency, cancelling older builds</span>
            </summary>
            <div className="form-grid">
              <Field
                id="job-priority"
                label="Priority"
                hint="-1000 to 1000: higher runs first when workers are scarce."
                error={error("priority")}
              >
                {(describedBy, invalid) => (
                  <input
                    id="job-priority"
                    type="number"
                    inputMode="numeric"
                    value={values.priority}
                    aria-describedby={describedBy}
                    aria-invalid={invalid}
                    onChange={(e) => set("priority", e.target.value)}
                  />
                )}
              </Field>
              <Field
                id="job-max-concurrent"
                label="Max concurrent builds"
                optional
                hint="At most this many builds of the job run at once (1 for a deploy). Empty: no limit."
                error={error("max_concurrent_builds")}
              >
                {(describedBy, invalid) => (
                  <input
                    id="job-max-concurrent"
                    type="number"
                    inputMode="numeric"
                    min={1}
                    value={values.maxConcurrentBuilds}
                    aria-describedby={describedBy}
                    aria-invalid={invalid}
                    onChange={(e) => set("maxConcurrentBuilds", e.target.value)}
                  />
                )}
              </Field>
            </div>
            <label className="checkbox">
              <input
                type="checkbox"
                checked={values.cancelPrevious}
                onChange={(e) => set("cancelPrevious", e.target.checked)}
              />
              A new build cancels the older queued builds of its kind (event, pull request, tag) and branch
            </label>
          </details>
        </div>

        <TriggersSection values={values} set={set} error={error} job={job} />

        <NotificationsSection
          rows={values.notifications}
          onChange={(rows) => set("notifications", rows)}
          serverErrors={ruleErrors.byRow}
          serverOther={ruleErrors.other}
          error={error("notifications")}
        />

        {server.form && (
          <p className="error" role="alert">
            {server.form}
          </p>
        )}
        {Object.keys(problems).length + Object.keys(server.fields).length > 0 && (
          <p className="error" role="alert">
            The job was not saved: see the fields marked above.
          </p>
        )}
        <div className="row form-actions">
          <button type="submit" disabled={save.isPending}>
            {save.isPending ? "Saving…" : creating ? "Create job" : "Save changes"}
          </button>
          <Link className="button secondary" to={backTo}>
            Cancel
          </Link>
        </div>
      </form>
    </section>
  );
}

function focusFirst(fields: string[]) {
  const first = Object.keys(INPUT_IDS).find((field) => fields.includes(field));
  requestAnimationFrame(() => {
    const target = first
      ? document.getElementById(INPUT_IDS[first] ?? "")
      : document.querySelector<HTMLElement>(".job-form [aria-invalid='true']");
    target?.focus();
  });
}

function ValidationStatus({
  validation,
  empty,
}: {
  validation: ReturnType<typeof usePipelineValidation>;
  empty: boolean;
}) {
  if (empty) return <span className="muted">Write the steps to run.</span>;
  const { result, error, checking, current } = validation;
  if (error && !result) {
    return <span className="error">The pipeline could not be checked: {errorText(error)}</span>;
  }
  if (!result) return <span className="muted">Checking…</span>;
  const pending = checking || !current ? <span className="muted"> · checking…</span> : null;
  if (result.valid) {
    return (
      <span>
        <span className="pe-ok">
          <span aria-hidden="true">✓ </span>Valid, {result.steps} {result.steps === 1 ? "step" : "steps"}
        </span>
        {pending}
      </span>
    );
  }
  const count = result.errors.length;
  return (
    <span>
      <span className="error">
        <span aria-hidden="true">✕ </span>
        {count === 1 ? "1 problem" : `${count} problems`}
      </span>
      {pending}
    </span>
  );
}
