// The job form's "Triggers" section: which forge events start a build (and for which branches
// and paths), the webhook secret, pull requests from forks, commit statuses, checkout
// credentials, schedules and the public badge. The webhook secret is write-only: the page only
// ever knows whether one is set.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, errorText, unwrap, type Job } from "../../api/client";
import { ConfirmDialog } from "../../components/Dialog";
import { Field } from "./Field";
import {
  FORGES,
  newScheduleRow,
  scheduleRowProblems,
  TRIGGER_EVENTS,
  WEBHOOK_SECRET_MIN,
  type ForgeType,
  type JobFormValues,
  type ScheduleRow,
  type TriggerEvent,
} from "./jobForm";

interface TriggersSectionProps {
  values: JobFormValues;
  set: <K extends keyof JobFormValues>(field: K, value: JobFormValues[K]) => void;
  error: (field: string) => string | undefined;
  /** The job being edited; none while creating one. */
  job?: Job;
}

export function TriggersSection({ values, set, error, job }: TriggersSectionProps) {
  const toggleEvent = (event: TriggerEvent, on: boolean) => {
    const chosen = new Set(values.triggerEvents);
    if (on) chosen.add(event);
    else chosen.delete(event);
    // Keep the order of TRIGGER_EVENTS, so the body does not depend on the order of clicks.
    set(
      "triggerEvents",
      TRIGGER_EVENTS.map((e) => e.value).filter((e) => chosen.has(e)),
    );
  };
  const eventsError = error("trigger_events");
  return (
    <div className="card form-section triggers-section">
      <h2 className="card-title">Triggers</h2>
      <p className="muted small section-hint">
        A forge's webhook starts builds of this job when its repository matches the job's. The job's page shows
        the URL to paste into the forge.
      </p>
      <fieldset className="source-choice" aria-describedby={eventsError ? "job-trigger-events-error" : undefined}>
        <legend>Events that start a build</legend>
        {TRIGGER_EVENTS.map((event) => (
          <label key={event.value} className="checkbox">
            <input
              type="checkbox"
              checked={values.triggerEvents.includes(event.value)}
              onChange={(e) => toggleEvent(event.value, e.target.checked)}
            />
            {event.label}
          </label>
        ))}
        {values.triggerEvents.length === 0 && (
          <p className="muted small field-hint">No event ticked: webhooks start nothing; builds start by hand or on a schedule.</p>
        )}
        {eventsError && (
          <p id="job-trigger-events-error" className="error small field-error">
            {eventsError}
          </p>
        )}
      </fieldset>
      <div className="form-grid">
        <Field
          id="job-branches"
          label="Branches"
          optional
          hint="Glob patterns, one a line (main, release/*). Empty: every branch. A pull request matches by its target branch."
          error={error("branches")}
        >
          {(describedBy, invalid) => (
            <textarea
              id="job-branches"
              className="mono globs"
              rows={3}
              value={values.branches}
              spellCheck={false}
              aria-describedby={describedBy}
              aria-invalid={invalid}
              onChange={(e) => set("branches", e.target.value)}
            />
          )}
        </Field>
        <Field
          id="job-paths"
          label="Paths"
          optional
          hint="Glob patterns, one a line (src/**, docs/*.md). A push that changes none of them starts nothing. Empty: any change."
          error={error("paths")}
        >
          {(describedBy, invalid) => (
            <textarea
              id="job-paths"
              className="mono globs"
              rows={3}
              value={values.paths}
              spellCheck={false}
              aria-describedby={describedBy}
              aria-invalid={invalid}
              onChange={(e) => set("paths", e.target.value)}
            />
          )}
        </Field>
      </div>
      <WebhookSecretField
        job={job}
        value={values.webhookSecret}
        onChange={(secret) => set("webhookSecret", secret)}
        error={error("webhook_secret")}
      />

      <fieldset className="source-choice forks">
        <legend>Pull requests from forks</legend>
        <label className="checkbox">
          <input
            type="checkbox"
            checked={values.forkSecrets}
            onChange={(e) => set("forkSecrets", e.target.checked)}
          />
          Give their builds the job's secrets and checkout credentials
        </label>
        <label className="checkbox">
          <input
            type="checkbox"
            checked={values.forkApproval}
            onChange={(e) => set("forkApproval", e.target.checked)}
          />
          Their builds wait until a developer approves them
        </label>
        {error("fork_secrets") && <p className="error small field-error">{error("fork_secrets")}</p>}
        {error("fork_approval") && <p className="error small field-error">{error("fork_approval")}</p>}
      </fieldset>

      <ForgeFields values={values} set={set} error={error("forge")} />

      <div className="form-grid">
        <Field
          id="job-checkout-credentials"
          label="Checkout credentials"
          optional
          hint="The name of a job secret holding an HTTPS token or an SSH private key, for a private repository."
          error={error("checkout_credentials")}
        >
          {(describedBy, invalid) => (
            <input
              id="job-checkout-credentials"
              className="mono"
              value={values.checkoutCredentials}
              autoComplete="off"
              spellCheck={false}
              aria-describedby={describedBy}
              aria-invalid={invalid}
              onChange={(e) => set("checkoutCredentials", e.target.value)}
            />
          )}
        </Field>
      </div>

      <SchedulesEditor rows={values.schedules} onChange={(rows) => set("schedules", rows)} error={error("schedules")} />

      <label className="checkbox public-badge">
        <input
          type="checkbox"
          checked={values.publicBadge}
          onChange={(e) => set("publicBadge", e.target.checked)}
        />
        Public badge: anyone may see the status of the last finished build as an SVG image
      </label>
      {error("public_badge") && <p className="error small field-error">{error("public_badge")}</p>}
    </div>
  );
}

interface WebhookSecretFieldProps {
  job?: Job;
  value: string;
  onChange: (secret: string) => void;
  error?: string;
}

/** A password input for a new secret; whether one is set; removing it asks first. */
export function WebhookSecretField({ job, value, onChange, error }: WebhookSecretFieldProps) {
  const queryClient = useQueryClient();
  const [isSet, setIsSet] = useState(job?.has_webhook_secret ?? false);
  const [confirming, setConfirming] = useState(false);
  const remove = useMutation({
    mutationFn: async (jobId: string) =>
      unwrap(
        await api.PATCH("/api/v1/jobs/{job_id}", {
          params: { path: { job_id: jobId } },
          body: { webhook_secret: null },
        }),
      ),
    onSuccess: (saved) => {
      queryClient.setQueryData(["jobs", saved.id], saved);
      setIsSet(saved.has_webhook_secret);
      setConfirming(false);
    },
  });
  const hint = isSet
    ? "Set. Type a new one to replace it; empty keeps it. It is never shown again."
    : `Not set: webhooks cannot start this job until it has one. ${WEBHOOK_SECRET_MIN} to 256 characters; paste the same in the forge's webhook settings.`;
  return (
    <div className="webhook-secret">
      <Field id="job-webhook-secret" label="Webhook secret" optional={isSet} hint={hint} error={error}>
        {(describedBy, invalid) => (
          <div className="row secret-row">
            <span className={isSet ? "secret-state secret-set" : "secret-state muted"} data-testid="webhook-secret-state">
              {isSet ? "set" : "not set"}
            </span>
            <input
              id="job-webhook-secret"
              className="mono"
              type="password"
              value={value}
              autoComplete="new-password"
              spellCheck={false}
              aria-describedby={describedBy}
              aria-invalid={invalid}
              onChange={(e) => onChange(e.target.value)}
            />
            {job && isSet && (
              <button type="button" className="secondary" onClick={() => setConfirming(true)}>
                Remove secret
              </button>
            )}
          </div>
        )}
      </Field>
      {remove.isSuccess && !isSet && (
        <p className="small muted" role="status">
          The webhook secret was removed.
        </p>
      )}
      {job && (
        <ConfirmDialog
          open={confirming}
          title="Remove the webhook secret?"
          confirmLabel="Remove secret"
          busyLabel="Removing…"
          danger
          busy={remove.isPending}
          error={remove.error ? errorText(remove.error) : null}
          onConfirm={() => remove.mutate(job.id)}
          onCancel={() => {
            setConfirming(false);
            remove.reset();
          }}
        >
          <p>Deliveries for this job are refused until a new secret is set. This is saved at once.</p>
        </ConfirmDialog>
      )}
    </div>
  );
}

function ForgeFields({
  values,
  set,
  error,
}: {
  values: JobFormValues;
  set: TriggersSectionProps["set"];
  error?: string;
}) {
  const chosen = values.forgeType !== "";
  return (
    <fieldset className="forge-fields">
      <legend>Commit statuses</legend>
      <p className="muted small field-hint">
        After each change of a build's state, the forge shows it on the commit (needs an API token in a job secret).
      </p>
      <div className="form-grid">
        <div className="field">
          <label htmlFor="job-forge-type">Forge</label>
          <select
            id="job-forge-type"
            value={values.forgeType}
            aria-invalid={error ? true : undefined}
            aria-describedby={error ? "job-forge-error" : undefined}
            onChange={(e) => set("forgeType", e.target.value as ForgeType | "")}
          >
            <option value="">None: report nothing</option>
            {FORGES.map((forge) => (
              <option key={forge.value} value={forge.value}>
                {forge.label}
              </option>
            ))}
          </select>
        </div>
        {chosen && (
          <>
            <Field
              id="job-forge-token-secret"
              label="Token secret"
              hint="The name of a job secret holding the forge's API token."
            >
              {(describedBy) => (
                <input
                  id="job-forge-token-secret"
                  className="mono"
                  value={values.forgeTokenSecret}
                  autoComplete="off"
                  spellCheck={false}
                  aria-describedby={describedBy}
                  onChange={(e) => set("forgeTokenSecret", e.target.value)}
                />
              )}
            </Field>
            <Field
              id="job-forge-api-url"
              label="API URL"
              optional={values.forgeType !== "gitea"}
              hint={
                values.forgeType === "gitea"
                  ? "Required for Gitea and Forgejo, e.g. https://gitea.example.com/api/v1."
                  : "Empty: the public API. Set it for a self-hosted GitLab or GitHub Enterprise."
              }
            >
              {(describedBy) => (
                <input
                  id="job-forge-api-url"
                  className="mono"
                  value={values.forgeApiUrl}
                  inputMode="url"
                  autoComplete="off"
                  spellCheck={false}
                  aria-describedby={describedBy}
                  onChange={(e) => set("forgeApiUrl", e.target.value)}
                />
              )}
            </Field>
            <Field
              id="job-forge-repository"
              label="Repository"
              optional
              hint="owner/repo; empty: read from the job's repository URL."
            >
              {(describedBy) => (
                <input
                  id="job-forge-repository"
                  className="mono"
                  value={values.forgeRepository}
                  autoComplete="off"
                  spellCheck={false}
                  aria-describedby={describedBy}
                  onChange={(e) => set("forgeRepository", e.target.value)}
                />
              )}
            </Field>
          </>
        )}
      </div>
      {error && (
        <p id="job-forge-error" className="error small field-error">
          {error}
        </p>
      )}
    </fieldset>
  );
}

interface SchedulesEditorProps {
  rows: ScheduleRow[];
  onChange: (rows: ScheduleRow[]) => void;
  error?: string;
}

/** Schedule rows: cron, branch, time zone and optional KEY=value variables. */
export function SchedulesEditor({ rows, onChange, error }: SchedulesEditorProps) {
  const problems = scheduleRowProblems(rows);
  const update = (id: number, field: keyof Omit<ScheduleRow, "id">, value: string) =>
    onChange(rows.map((row) => (row.id === id ? { ...row, [field]: value } : row)));
  return (
    <fieldset className="schedules">
      <legend>Schedules</legend>
      <p className="muted small field-hint">
        Cron expressions (minute hour day month weekday, e.g. <span className="mono">0 3 * * *</span>). Each due time
        starts one build; after downtime only the latest missed run starts. Time zone: e.g. Europe/Berlin; empty: UTC.
      </p>
      {rows.length > 0 && (
        <ol className="schedule-list">
          {rows.map((row, index) => {
            const n = index + 1;
            const problem = problems.get(row.id);
            return (
              <li key={row.id} className="schedule-row">
                <div className="schedule-cells">
                  <label>
                    <span className="small">Cron {n}</span>
                    <input
                      className="mono"
                      value={row.cron}
                      placeholder="0 3 * * *"
                      spellCheck={false}
                      autoComplete="off"
                      aria-invalid={problem ? true : undefined}
                      onChange={(e) => update(row.id, "cron", e.target.value)}
                    />
                  </label>
                  <label>
                    <span className="small">Branch {n}</span>
                    <input
                      className="mono"
                      value={row.branch}
                      placeholder="the job's"
                      spellCheck={false}
                      autoComplete="off"
                      onChange={(e) => update(row.id, "branch", e.target.value)}
                    />
                  </label>
                  <label>
                    <span className="small">Time zone {n}</span>
                    <input
                      value={row.timezone}
                      placeholder="UTC"
                      spellCheck={false}
                      autoComplete="off"
                      onChange={(e) => update(row.id, "timezone", e.target.value)}
                    />
                  </label>
                  <label className="schedule-env">
                    <span className="small">Variables {n} (KEY=value lines)</span>
                    <textarea
                      className="mono"
                      rows={1}
                      value={row.env}
                      spellCheck={false}
                      onChange={(e) => update(row.id, "env", e.target.value)}
                    />
                  </label>
                  <button
                    type="button"
                    className="secondary schedule-remove"
                    aria-label={`Remove schedule ${n}`}
                    onClick={() => onChange(rows.filter((r) => r.id !== row.id))}
                  >
                    ✕
                  </button>
                </div>
                {problem && <p className="error small env-problem">{problem}</p>}
              </li>
            );
          })}
        </ol>
      )}
      <button type="button" className="secondary" onClick={() => onChange([...rows, newScheduleRow()])}>
        + Add schedule
      </button>
      {error && <p className="error small field-error">{error}</p>}
    </fieldset>
  );
}
