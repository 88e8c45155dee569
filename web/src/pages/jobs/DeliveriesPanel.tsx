// The job page's Deliveries tab (admins): each webhook delivery that named the job, what came of
// it, the headers and body as received, and a Replay that runs it again.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Link } from "react-router";
import { api, errorText, unwrap } from "../../api/client";
import { ErrorMessage, Loading } from "../../components/Feedback";
import { formatRelative, formatTime } from "../../lib/format";
import { forgeLabel } from "./jobForm";
import {
  formatHeaders,
  notReplayableReason,
  prettyBody,
  replayable,
  replaySummary,
  type Delivery,
} from "./deliveries";
import { useDeliveries } from "./queries";

export function DeliveriesPanel({ jobId, now = Date.now() }: { jobId: string; now?: number }) {
  const deliveries = useDeliveries(jobId);
  if (deliveries.isPending) return <Loading what="Loading deliveries" />;
  if (deliveries.isError) return <ErrorMessage error={deliveries.error} />;
  const items = deliveries.data.pages.flatMap((page) => page.items);
  return (
    <div className="deliveries">
      <div className="row deliveries-head">
        <p className="muted small">
          Every webhook delivery for this job in the last 30 days, newest first: accepted, ignored (with why) or
          rejected.
        </p>
        <span className="spacer" />
        <button
          type="button"
          className="secondary"
          onClick={() => void deliveries.refetch()}
          disabled={deliveries.isFetching}
        >
          {deliveries.isFetching && !deliveries.isFetchingNextPage ? "Refreshing…" : "Refresh"}
        </button>
      </div>
      {items.length === 0 ? (
        <p className="muted card">
          No deliveries yet. Paste the job's webhook URL and secret into the forge's settings, then push.
        </p>
      ) : (
        <ol className="delivery-list" aria-label="Webhook deliveries">
          {items.map((delivery) => (
            <DeliveryItem key={delivery.id} delivery={delivery} now={now} />
          ))}
        </ol>
      )}
      {deliveries.hasNextPage && (
        <p>
          <button
            type="button"
            className="secondary"
            onClick={() => void deliveries.fetchNextPage()}
            disabled={deliveries.isFetchingNextPage}
          >
            {deliveries.isFetchingNextPage ? "Loading…" : "Older deliveries"}
          </button>
        </p>
      )}
    </div>
  );
}

// A body is kept up to 25 MiB; the page shows its start, as it came, beyond this.
const SHOWN_BODY = 200_000;

const OUTCOME_CLASS: Record<Delivery["outcome"], string> = {
  accepted: "badge badge-success",
  ignored: "badge badge-skipped",
  rejected: "badge badge-failure",
};

export function DeliveryItem({ delivery, now }: { delivery: Delivery; now: number }) {
  const queryClient = useQueryClient();
  const [open, setOpen] = useState(false);
  const replay = useMutation({
    mutationFn: async () =>
      unwrap(
        await api.POST("/api/v1/hooks/deliveries/{delivery_id}/replay", {
          params: { path: { delivery_id: delivery.id } },
        }),
      ),
    onSuccess: () => {
      void queryClient.invalidateQueries({ queryKey: ["hooks", "deliveries"] });
      void queryClient.invalidateQueries({ queryKey: ["builds"] });
    },
  });
  const titleId = `delivery-${delivery.id}`;
  return (
    <li className="card delivery" aria-labelledby={titleId}>
      <div className="delivery-line">
        <time id={titleId} dateTime={delivery.received_at} title={formatTime(delivery.received_at)}>
          {formatRelative(delivery.received_at, now)}
        </time>
        <span>{forgeLabel(delivery.forge)}</span>
        <span className="mono">{delivery.event ?? "unknown event"}</span>
        <span className={OUTCOME_CLASS[delivery.outcome]}>{delivery.outcome}</span>
        <span className="muted small mono" title="HTTP status answered to the forge">
          {delivery.status_code}
        </span>
        <span className="spacer" />
        {replayable(delivery) ? (
          <button type="button" className="secondary" onClick={() => replay.mutate()} disabled={replay.isPending}>
            {replay.isPending ? "Replaying…" : "Replay"}
          </button>
        ) : (
          <span className="muted small" title={notReplayableReason(delivery)}>
            not replayable
          </span>
        )}
      </div>
      {delivery.reason && <p className="delivery-reason">{delivery.reason}</p>}
      {delivery.build_ids.length > 0 && (
        <p className="small delivery-builds">
          Builds:{" "}
          {delivery.build_ids.map((id, index) => (
            <span key={id}>
              {index > 0 && ", "}
              <Link to={`/builds/${id}`} className="mono">
                {id.slice(0, 8)}
              </Link>
            </span>
          ))}
        </p>
      )}
      {replay.isSuccess && (
        <p className="small" role="status">
          {replaySummary(replay.data)}{" "}
          {replay.data.builds.map((build) => (
            <Link key={build.id} to={`/builds/${build.id}`} className="replay-build">
              Build #{build.number}
            </Link>
          ))}
        </p>
      )}
      {replay.isError && (
        <p className="error small" role="alert">
          Replay failed: {errorText(replay.error)}
        </p>
      )}
      <button
        type="button"
        className="secondary delivery-toggle"
        aria-expanded={open}
        onClick={() => setOpen((was) => !was)}
      >
        {open ? "Hide headers and body" : "Show headers and body"}
      </button>
      {open && (
        <div className="delivery-payload">
          <p className="small muted">
            Delivery id <span className="mono">{delivery.delivery_id ?? "–"}</span>. Secret headers are not kept.
          </p>
          <h3 className="small">Headers</h3>
          <pre className="pipeline-text" tabIndex={0} aria-label="Headers">
            {formatHeaders(delivery.headers)}
          </pre>
          <h3 className="small">Body</h3>
          {delivery.body.length > SHOWN_BODY && (
            <p className="small muted">
              The first {SHOWN_BODY.toLocaleString()} of {delivery.body.length.toLocaleString()} characters, as received.
            </p>
          )}
          <pre className="pipeline-text" tabIndex={0} aria-label="Body">
            {delivery.body.length > SHOWN_BODY ? delivery.body.slice(0, SHOWN_BODY) : prettyBody(delivery.body)}
          </pre>
        </div>
      )}
    </li>
  );
}
