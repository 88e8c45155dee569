// The commit statuses the server reported (or is reporting) to the forge for a build: one row per
// state change. A report that finally failed shows the error and what the forge answered.
import type { Schemas } from "../../api/client";
import { formatRelative, formatTime } from "../../lib/format";

export type StatusReport = Schemas["StatusReportRead"];

const STATUS_WORDS: Record<StatusReport["status"], string> = {
  pending: "sending",
  sent: "sent",
  failed: "failed",
};

const STATUS_CLASS: Record<StatusReport["status"], string> = {
  pending: "badge badge-pending",
  sent: "badge badge-success",
  failed: "badge badge-failure",
};

export function StatusReports({ reports, now }: { reports: readonly StatusReport[]; now: number }) {
  if (reports.length === 0) return null;
  const failed = reports.filter((report) => report.status === "failed").length;
  return (
    <div className="card build-section status-reports">
      <h2>Commit statuses</h2>
      {failed > 0 && (
        <p className="error" role="alert">
          {failed === 1 ? "1 report" : `${failed} reports`} could not be sent to the forge: the commit may show an
          old state.
        </p>
      )}
      <div className="table-wrap">
        <table>
          <caption className="visually-hidden">Commit statuses reported to the forge</caption>
          <thead>
            <tr>
              <th scope="col">State</th>
              <th scope="col">Report</th>
              <th scope="col" className="hide-narrow">
                Forge
              </th>
              <th scope="col" className="hide-narrow">
                Context
              </th>
              <th scope="col">Attempts</th>
              <th scope="col">Updated</th>
            </tr>
          </thead>
          <tbody>
            {reports.map((report, index) => (
              <ReportRow key={index} report={report} now={now} />
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}

function ReportRow({ report, now }: { report: StatusReport; now: number }) {
  const answer =
    report.response_status !== null || report.response_body
      ? `${report.response_status ?? ""} ${report.response_body ?? ""}`.trim()
      : null;
  return (
    <>
      <tr>
        <td className="mono">{report.state}</td>
        <td>
          <span className={STATUS_CLASS[report.status]}>{STATUS_WORDS[report.status]}</span>
        </td>
        <td className="hide-narrow">{report.forge}</td>
        <td className="hide-narrow mono">{report.context}</td>
        <td>{report.attempts}</td>
        <td title={formatTime(report.updated_at)}>{formatRelative(report.updated_at, now)}</td>
      </tr>
      {report.status === "pending" && report.last_error && (
        <tr className="report-retrying">
          <td colSpan={6} className="small muted">
            Retrying after: {report.last_error}
          </td>
        </tr>
      )}
      {report.status === "failed" && (
        <tr className="report-failure">
          <td colSpan={6}>
            <p className="error">{report.last_error ?? "The forge did not take the report."}</p>
            {answer && (
              <>
                <p className="small muted">The forge answered:</p>
                <pre className="report-answer">{answer}</pre>
              </>
            )}
          </td>
        </tr>
      )}
    </>
  );
}
