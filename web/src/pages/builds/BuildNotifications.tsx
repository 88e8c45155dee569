// The build's notifications: one row per delivery (a rule of the job answering one event of the
// build), where it went, how it went and how often it was tried. The last error is printed under
// its row, not hidden in a tooltip: it is what the reader came for.
import { formatRelative, formatTime } from "../../lib/format";
import { DELIVERY_STATUS_WORDS, type NotificationDelivery } from "../jobs/notifications";

const STATUS_CLASS: Record<NotificationDelivery["status"], string> = {
  pending: "badge badge-pending",
  sent: "badge badge-success",
  failed: "badge badge-failure",
};

interface BuildNotificationsProps {
  deliveries: readonly NotificationDelivery[];
  now: number;
}

export function BuildNotifications({ deliveries, now }: BuildNotificationsProps) {
  if (deliveries.length === 0) return null;
  const failed = deliveries.filter((delivery) => delivery.status === "failed").length;
  return (
    <div className="card build-section build-notifications">
      <h2>Notifications</h2>
      {failed > 0 && (
        <p className="error" role="alert">
          {failed === 1 ? "1 notification" : `${failed} notifications`} could not be delivered.
        </p>
      )}
      <div className="table-wrap">
        <table>
          <caption className="visually-hidden">Notifications sent for this build</caption>
          <thead>
            <tr>
              <th scope="col">Type</th>
              <th scope="col">Target</th>
              <th scope="col">Event</th>
              <th scope="col">Status</th>
              <th scope="col">Attempts</th>
              <th scope="col" className="hide-narrow">
                When
              </th>
            </tr>
          </thead>
          <tbody>
            {deliveries.map((delivery) => (
              <DeliveryRow key={delivery.id} delivery={delivery} now={now} />
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}

function DeliveryRow({ delivery, now }: { delivery: NotificationDelivery; now: number }) {
  const when = delivery.sent_at ?? delivery.created_at;
  return (
    <>
      <tr data-delivery-status={delivery.status}>
        <td>{delivery.type}</td>
        <td className="mono break">{delivery.target}</td>
        <td>
          <span className="mono">{delivery.event}</span> <span className="muted small">({delivery.outcome})</span>
        </td>
        <td>
          <span className={STATUS_CLASS[delivery.status] ?? "badge"}>
            {DELIVERY_STATUS_WORDS[delivery.status] ?? delivery.status}
          </span>
        </td>
        <td>{delivery.attempts}</td>
        <td className="hide-narrow" title={formatTime(when)}>
          {formatRelative(when, now)}
        </td>
      </tr>
      {delivery.last_error && (
        <tr className={delivery.status === "failed" ? "report-failure" : "report-retrying"}>
          <td colSpan={6} className={delivery.status === "failed" ? "error" : "small muted"}>
            {delivery.status === "failed" ? "Last error: " : delivery.status === "pending" ? "Retrying after: " : "Earlier error: "}
            {delivery.last_error}
          </td>
        </tr>
      )}
    </>
  );
}
