// The job page's "Triggers" card: what starts a build of the job (webhook events, filters,
// schedules with their next run), the URL and secret a forge needs, commit statuses, and the
// public badge's Markdown.
import type { ReactNode } from "react";
import type { Job } from "../../api/client";
import { CopyField } from "../../components/CopyField";
import { formatTime, formatUntil } from "../../lib/format";
import { badgeMarkdown, badgeUrl, forgesFor, webhookUrl } from "./hookLinks";
import { forgeLabel, TRIGGER_EVENTS } from "./jobForm";

interface JobTriggersCardProps {
  job: Job;
  /** The server's address as the browser sees it, e.g. https://ci.example.com. */
  origin: string;
  now: number;
}

export function JobTriggersCard({ job, origin, now }: JobTriggersCardProps) {
  const events = TRIGGER_EVENTS.filter((event) => (job.trigger_events ?? []).includes(event.value));
  const schedules = job.schedules ?? [];
  return (
    <div className="card triggers-card">
      <h2 className="card-title">Triggers</h2>
      <dl className="settings">
        <Item term="Events">
          {events.length === 0 ? (
            <span className="muted">none: webhooks start nothing</span>
          ) : (
            events.map((event) => event.label).join("; ")
          )}
        </Item>
        <Item term="Branches">
          <Globs globs={job.branches ?? []} none="all" />
        </Item>
        <Item term="Paths">
          <Globs globs={job.paths ?? []} none="any change" />
        </Item>
        <Item term="Webhook secret">
          {job.has_webhook_secret ? (
            "set"
          ) : (
            <span className="error">not set: deliveries for this job are refused until it has one</span>
          )}
        </Item>
        <Item term="Forks">
          {job.fork_secrets ? "get secrets and credentials" : "no secrets"}
          {job.fork_approval ? ", builds wait for a developer's approval" : ""}
        </Item>
        <Item term="Commit statuses">
          {job.forge ? (
            <>
              {forgeLabel(job.forge.type)}
              {job.forge.repository && (
                <>
                  {" "}
                  <span className="mono">{job.forge.repository}</span>
                </>
              )}
              , token in <span className="mono">{job.forge.token_secret}</span>
              {job.forge.api_url && (
                <>
                  {" "}
                  at <span className="mono break">{job.forge.api_url}</span>
                </>
              )}
            </>
          ) : (
            <span className="muted">not reported</span>
          )}
        </Item>
        <Item term="Checkout credentials">
          {job.checkout_credentials ? (
            <span className="mono">{job.checkout_credentials}</span>
          ) : (
            <span className="muted">none</span>
          )}
        </Item>
        <Item term="Next scheduled run">
          {job.next_run_at ? (
            <time dateTime={job.next_run_at} title={formatTime(job.next_run_at)}>
              {formatTime(job.next_run_at)} ({formatUntil(job.next_run_at, now)})
            </time>
          ) : (
            <span className="muted">no schedule</span>
          )}
        </Item>
      </dl>

      {schedules.length > 0 && (
        <div className="table-wrap schedules-table">
          <table>
            <caption className="visually-hidden">Schedules</caption>
            <thead>
              <tr>
                <th scope="col">Cron</th>
                <th scope="col">Branch</th>
                <th scope="col">Time zone</th>
                <th scope="col">Next run</th>
              </tr>
            </thead>
            <tbody>
              {schedules.map((schedule, index) => (
                <tr key={index}>
                  <td className="mono">{schedule.cron}</td>
                  <td className="mono">{schedule.branch ?? <span className="muted">the job's</span>}</td>
                  <td>{schedule.timezone ?? "UTC"}</td>
                  <td title={formatTime(schedule.next_run_at)}>
                    {schedule.next_run_at ? formatUntil(schedule.next_run_at, now) : "–"}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}

      <details className="advanced webhook-urls">
        <summary>Webhook URLs</summary>
        <p className="muted small">
          Paste the one of your forge into its webhook settings, with the job's secret, and tick the events above. See
          docs/forges.md for each forge, step by step.
        </p>
        {forgesFor(job).map((forge) => (
          <CopyField key={forge} label={`${forgeLabel(forge)} webhook URL`} value={webhookUrl(origin, forge)} />
        ))}
      </details>

      {job.public_badge && (
        <div className="badge-markdown">
          <p className="small">
            <img src={badgeUrl(origin, job.name)} alt={`Status of ${job.name}`} height={20} />
          </p>
          <CopyField label="Badge Markdown" value={badgeMarkdown(origin, job)} />
        </div>
      )}
    </div>
  );
}

function Item({ term, children }: { term: string; children: ReactNode }) {
  return (
    <div className="setting">
      <dt>{term}</dt>
      <dd>{children}</dd>
    </div>
  );
}

function Globs({ globs, none }: { globs: readonly string[]; none: string }) {
  if (globs.length === 0) return <span className="muted">{none}</span>;
  return (
    <ul className="labels" aria-label="Patterns">
      {globs.map((glob) => (
        <li key={glob} className="label-chip mono">
          {glob}
        </li>
      ))}
    </ul>
  );
}
