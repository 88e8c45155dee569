// The job form's "Notifications" section: the job's rules, each a card with its type, the type's
// settings (secrets by name only: the values live in the job's secrets), the events it answers
// and the branches it is for. A problem the browser sees, or the server's 422 naming the rule by
// its index, is shown in the rule it belongs to.
import {
  newNotificationRow,
  notificationRowProblems,
  NOTIFY_EVENTS,
  RULE_KINDS,
  type NotificationRow,
  type NotifyEvent,
  type RowKind,
} from "./notifications";

interface NotificationsSectionProps {
  rows: NotificationRow[];
  onChange: (rows: NotificationRow[]) => void;
  /** The server's complaints by row id, from the last save. */
  serverErrors: Record<number, string>;
  /** The server's complaints naming no rule of the form. */
  serverOther?: readonly string[];
  /** Shown under the whole list (e.g. "fix the rules marked above"). */
  error?: string;
}

export function NotificationsSection({ rows, onChange, serverErrors, serverOther = [], error }: NotificationsSectionProps) {
  const problems = notificationRowProblems(rows);
  const update = (id: number, change: Partial<NotificationRow>) =>
    onChange(rows.map((row) => (row.id === id ? { ...row, ...change, edited: true } : row)));
  // A rule just added is not wrong yet: its problems show once it is edited or a save was tried.
  const shown = (row: NotificationRow) => (row.edited || error ? problems.get(row.id) : undefined);
  return (
    <div className="card form-section notifications-section">
      <h2 className="card-title">Notifications</h2>
      <p className="muted small section-hint">
        Who hears about this job's builds. Secrets are named, not typed here: set them on the job's secrets first.
        Sent after the build's state is saved; a failed delivery never fails the build and is shown on its page.
      </p>
      {rows.length === 0 && <p className="muted small">No rules: nobody is notified.</p>}
      {rows.length > 0 && (
        <ol className="notification-list">
          {rows.map((row, index) => (
            <RuleEditor
              key={row.id}
              row={row}
              index={index}
              problem={shown(row) ?? serverErrors[row.id]}
              onChange={(change) => update(row.id, change)}
              onRemove={() => onChange(rows.filter((r) => r.id !== row.id))}
            />
          ))}
        </ol>
      )}
      <button type="button" className="secondary" onClick={() => onChange([...rows, newNotificationRow()])}>
        + Add notification rule
      </button>
      {serverOther.map((message) => (
        <p key={message} className="error small field-error" role="alert">
          {message}
        </p>
      ))}
      {error && (
        <p id="job-notifications-error" className="error small field-error">
          {error}
        </p>
      )}
    </div>
  );
}

interface RuleEditorProps {
  row: NotificationRow;
  index: number;
  problem?: string;
  onChange: (change: Partial<NotificationRow>) => void;
  onRemove: () => void;
}

function RuleEditor({ row, index, problem, onChange, onRemove }: RuleEditorProps) {
  const n = index + 1;
  const id = `job-notification-${row.id}`;
  const invalid = problem ? true : undefined;
  const describedBy = problem ? `${id}-error` : undefined;
  const toggle = (event: NotifyEvent, on: boolean) =>
    onChange({ on: on ? [...row.on, event] : row.on.filter((e) => e !== event) });
  return (
    <li className="notification-rule" aria-label={`Notification rule ${n}`} data-rule-index={index}>
      <div className="notification-head">
        <label htmlFor={`${id}-kind`}>Rule {n}: type</label>
        <select id={`${id}-kind`} value={row.kind} onChange={(e) => onChange({ kind: e.target.value as RowKind })}>
          {RULE_KINDS.map((kind) => (
            <option key={kind.value} value={kind.value}>
              {kind.label}
            </option>
          ))}
        </select>
        <span className="spacer" />
        <button type="button" className="secondary" aria-label={`Remove notification rule ${n}`} onClick={onRemove}>
          ✕ Remove
        </button>
      </div>
      <div className="form-grid">
        {row.kind === "email" && (
          <TextSetting
            rule={n}
            id={`${id}-to`}
            label="Recipients"
            hint="Addresses, comma separated."
            value={row.to}
            invalid={invalid}
            describedBy={describedBy}
            onChange={(to) => onChange({ to })}
          />
        )}
        {row.kind === "slack" && (
          <TextSetting
            rule={n}
            id={`${id}-slack-secret`}
            label="Webhook URL secret"
            hint="The name of a job secret holding Slack's incoming-webhook URL."
            value={row.slackSecret}
            invalid={invalid}
            describedBy={describedBy}
            onChange={(slackSecret) => onChange({ slackSecret })}
          />
        )}
        {row.kind === "webhook" && (
          <>
            <TextSetting
              rule={n}
              id={`${id}-url`}
              label="URL"
              hint="Each event is POSTed here as JSON (see docs/notifications.md)."
              value={row.url}
              invalid={invalid}
              describedBy={describedBy}
              inputMode="url"
              onChange={(url) => onChange({ url })}
            />
            <TextSetting
              rule={n}
              id={`${id}-signing-secret`}
              label="Signing secret"
              optional
              hint="The name of a job secret; its value signs each request (X-Solvyd-Signature-256)."
              value={row.signingSecret}
              onChange={(signingSecret) => onChange({ signingSecret })}
            />
          </>
        )}
        {row.kind === "other" && (
          <>
            <TextSetting
              rule={n}
              id={`${id}-type`}
              label="Type"
              hint="The notification type a plugin adds (the Plugins page lists them)."
              value={row.otherType}
              invalid={invalid}
              describedBy={describedBy}
              onChange={(otherType) => onChange({ otherType })}
            />
            <div className="field notification-settings">
              <label htmlFor={`${id}-settings`}>
                Settings (JSON object)<span className="visually-hidden"> of rule {n}</span>
              </label>
              <textarea
                id={`${id}-settings`}
                className="mono"
                rows={3}
                value={row.settings}
                spellCheck={false}
                aria-invalid={invalid}
                aria-describedby={describedBy}
                onChange={(e) => onChange({ settings: e.target.value })}
              />
            </div>
          </>
        )}
        <TextSetting
          rule={n}
          id={`${id}-branches`}
          label="Branches"
          optional
          hint="Glob patterns, comma separated (main, release/*). Empty: every branch."
          value={row.branches}
          onChange={(branches) => onChange({ branches })}
        />
      </div>
      <fieldset className="notification-events">
        <legend>Rule {n}: send when a build</legend>
        {NOTIFY_EVENTS.map((event) => (
          <label key={event.value} className="checkbox">
            <input
              type="checkbox"
              checked={row.on.includes(event.value)}
              onChange={(e) => toggle(event.value, e.target.checked)}
            />
            {event.label} <span className="muted mono small">{event.value}</span>
          </label>
        ))}
      </fieldset>
      {problem && (
        <p id={`${id}-error`} className="error small field-error" role="alert">
          {problem}
        </p>
      )}
    </li>
  );
}

interface TextSettingProps {
  /** The rule's number, for screen readers: every rule has a field of the same label. */
  rule: number;
  id: string;
  label: string;
  hint: string;
  value: string;
  optional?: boolean;
  invalid?: true;
  describedBy?: string;
  inputMode?: "url";
  onChange: (value: string) => void;
}

function TextSetting(props: TextSettingProps) {
  const { rule, id, label, hint, value, optional, invalid, describedBy, inputMode, onChange } = props;
  return (
    <div className="field">
      <label htmlFor={id}>
        {label}
        <span className="visually-hidden"> of rule {rule}</span>{" "}
        {optional && <span className="muted optional">(optional)</span>}
      </label>
      <input
        id={id}
        className="mono"
        value={value}
        inputMode={inputMode}
        autoComplete="off"
        spellCheck={false}
        aria-invalid={invalid}
        aria-describedby={[`${id}-hint`, describedBy].filter(Boolean).join(" ")}
        onChange={(e) => onChange(e.target.value)}
      />
      <p id={`${id}-hint`} className="muted small field-hint">
        {hint}
      </p>
    </div>
  );
}
