// The job page's "Notifications" card: the job's rules (type, where they send, on which events
// and branches) and, for developers, "Send a test notification" through every rule or one, with
// each rule's result beside it. A test is sent now by the server and leaves no delivery behind.
import { useMutation } from "@tanstack/react-query";
import { api, errorText, unwrap, type Job } from "../../api/client";
import { Link } from "react-router";
import {
  ruleBranches,
  ruleEvents,
  ruleTarget,
  type NotificationRule,
  type NotificationTestResult,
} from "./notifications";

interface JobNotificationsCardProps {
  job: Job;
  /** May send tests (the developer role, as for editing the job). */
  canTest: boolean;
}

export function JobNotificationsCard({ job, canTest }: JobNotificationsCardProps) {
  const rules = (job.notifications ?? []) as NotificationRule[];
  const test = useMutation({
    mutationFn: async (rule: number | null) =>
      unwrap(
        await api.POST("/api/v1/jobs/{job_id}/notifications/test", {
          params: { path: { job_id: job.id } },
          body: { rule },
        }),
      ),
  });
  const results = new Map<number, NotificationTestResult>(
    (test.data?.results ?? []).map((result) => [result.rule, result]),
  );
  const sending = test.isPending ? test.variables : undefined;
  const failed = test.data?.results.filter((result) => !result.ok).length ?? 0;
  return (
    <div className="card notifications-card">
      <div className="row card-head">
        <h2 className="card-title">Notifications</h2>
        <span className="spacer" />
        {canTest && rules.length > 0 && (
          <button type="button" className="secondary" disabled={test.isPending} onClick={() => test.mutate(null)}>
            {sending === null ? "Sending…" : "Send a test notification"}
          </button>
        )}
      </div>
      {rules.length === 0 ? (
        <p className="muted">
          No rules: nobody is notified of this job's builds.
          {canTest && (
            <>
              {" "}
              <Link to={`/jobs/${job.id}/edit`}>Add one</Link>.
            </>
          )}
        </p>
      ) : (
        <ol className="notification-rules" aria-label="Notification rules">
          {rules.map((rule, index) => (
            <li key={index} data-rule-index={index}>
              <span className="badge">{String(rule.type)}</span>
              <span className="mono break">{ruleTarget(rule)}</span>
              <span className="muted small">
                on {ruleEvents(rule).join(", ")}
                {ruleBranches(rule).length > 0 && <> · branches {ruleBranches(rule).join(", ")}</>}
              </span>
              {canTest && (
                <button
                  type="button"
                  className="secondary rule-test"
                  disabled={test.isPending}
                  aria-label={`Send a test through rule ${index + 1}`}
                  onClick={() => test.mutate(index)}
                >
                  {sending === index ? "sending…" : "test"}
                </button>
              )}
              <TestResult result={results.get(index)} />
            </li>
          ))}
        </ol>
      )}
      {test.error && (
        <p className="error" role="alert">
          The test could not be sent: {errorText(test.error)}
        </p>
      )}
      {test.data && (
        <p className={failed > 0 ? "error small" : "small"} role="status">
          {failed > 0
            ? `${failed} of ${test.data.results.length} test notifications failed.`
            : `${test.data.results.length === 1 ? "The test notification was" : "All test notifications were"} sent.`}
        </p>
      )}
    </div>
  );
}

function TestResult({ result }: { result?: NotificationTestResult }) {
  if (!result) return null;
  return result.ok ? (
    <p className="notification-result small pe-ok" data-testid="notification-test-result">
      <span aria-hidden="true">✓ </span>Test sent to {result.target}
    </p>
  ) : (
    <p className="notification-result small error" data-testid="notification-test-result">
      <span aria-hidden="true">✕ </span>Test failed: {result.error ?? "no reason given"}
    </p>
  );
}
