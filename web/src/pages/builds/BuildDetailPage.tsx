// One build: what it is and how it went, its steps as a graph, its live log and artifacts.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useCallback, useMemo, useState } from "react";
import { Link, useLocation, useNavigate, useParams, useSearchParams } from "react-router";
import { api, ApiError, errorText, unwrap, type Build } from "../../api/client";
import { useAuth } from "../../auth/AuthProvider";
import { ErrorMessage, Loading } from "../../components/Feedback";
import { StatusBadge } from "../../components/StatusBadge";
import { runSeconds, triggerLabel, workerName } from "../../lib/builds";
import { formatBytes, formatDuration, formatRelative, formatTime } from "../../lib/format";
import { useWorkerNames } from "../../lib/queries";
import { useNow } from "../../lib/useNow";
import { downloadWithAuth, encodePath, isFinished } from "./buildInfo";
import { BuildLogPanel } from "./BuildLogPanel";
import { ApprovalBanner, BuildOrigin } from "./BuildOrigin";
import { BuildDeployments } from "./BuildDeployments";
import { BuildNotifications } from "./BuildNotifications";
import { StatusReports } from "./StatusReports";
import { StepGraph, type GraphStepData } from "./StepGraph";
import "./builds.css";

const NOTIFICATION_POLL_MS = 5000;

export function BuildDetailPage() {
  const { buildId = "" } = useParams();
  const build = useQuery({
    queryKey: ["build", buildId],
    queryFn: async () =>
      unwrap(await api.GET("/api/v1/builds/{build_id}", { params: { path: { build_id: buildId } } })),
    // A notification is sent after the build's last event, and retried for up to 30 minutes:
    // no live event says when it went, so the page asks again while one is on its way.
    refetchInterval: (query) =>
      query.state.data?.notifications?.some((delivery) => delivery.status === "pending") ? NOTIFICATION_POLL_MS : false,
  });
  if (build.isPending) return <Loading what="Loading the build" />;
  if (build.isError) {
    const missing =
      build.error instanceof ApiError && (build.error.status === 404 || build.error.status === 422);
    return (
      <section>
        <h1>Build</h1>
        {missing ? (
          <p className="error" role="alert">
            There is no build with the id {buildId}. <Link to="/builds">See all builds</Link>.
          </p>
        ) : (
          <ErrorMessage error={build.error} />
        )}
      </section>
    );
  }
  // Keyed: another build (a retry) starts with fresh state and a fresh log stream.
  return <BuildDetail key={build.data.id} build={build.data} />;
}

function BuildDetail({ build }: { build: Build }) {
  const queryClient = useQueryClient();
  const [params] = useSearchParams();
  const selectedStep = params.get("step");
  const live = !isFinished(build.status);
  const now = useNow(live ? 1000 : null);
  const workerNames = useWorkerNames();
  const steps = useMemo(
    () => [...(build.steps as GraphStepData[])].sort((a, b) => a.position - b.position),
    [build.steps],
  );
  const stepNames = useMemo(() => steps.map((s) => s.name), [steps]);

  // The selected step is in the URL (?step=), so a link can show one step's log. A line
  // link (#L<n>) is dropped when the reader picks another step, kept when the page itself
  // widens the view to show that line.
  const location = useLocation();
  const navigate = useNavigate();
  const selectStep = useCallback(
    (step: string | null, keepHash = false) => {
      const next = new URLSearchParams(location.search);
      if (step) next.set("step", step);
      else next.delete("step");
      const search = next.toString();
      void navigate(
        { search: search ? `?${search}` : "", hash: keepHash ? location.hash : "" },
        { replace: true, preventScrollReset: true },
      );
    },
    [location.search, location.hash, navigate],
  );

  const refetchBuild = useCallback(() => {
    void queryClient.invalidateQueries({ queryKey: ["build", build.id] });
  }, [queryClient, build.id]);

  const downloadName = `${(build.job_name ?? "build").replace(/[^\w.-]+/g, "_")}-${build.number}.log`;

  return (
    <section className="build-detail">
      <BuildHeader build={build} workerName={workerName(build.worker_id, workerNames)} now={now} />

      <div className="card build-section">
        <h2>Steps</h2>
        <StepGraph steps={steps} selected={selectedStep} onSelect={selectStep} now={now} />
      </div>

      {/* Above the log: a deployment waiting for approval is what the reader must act on. */}
      <BuildDeployments buildId={build.id} now={now} />

      <div className="card build-section">
        <h2>Log</h2>
        <BuildLogPanel
          buildId={build.id}
          steps={stepNames}
          selectedStep={selectedStep}
          onSelectStep={selectStep}
          live={live}
          downloadName={downloadName}
          onBuildChanged={refetchBuild}
        />
      </div>

      <div className="card build-section">
        <h2>Artifacts</h2>
        <Artifacts buildId={build.id} finished={!live} />
      </div>

      <StatusReports reports={build.status_reports ?? []} now={now} />
      <BuildNotifications deliveries={build.notifications ?? []} now={now} />
    </section>
  );
}

function BuildActions({ build }: { build: Build }) {
  const { can } = useAuth();
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const cancel = useMutation({
    mutationFn: async () =>
      unwrap(
        await api.POST("/api/v1/builds/{build_id}/cancel", {
          params: { path: { build_id: build.id } },
        }),
      ),
    onSettled: () => {
      void queryClient.invalidateQueries({ queryKey: ["build", build.id] });
      void queryClient.invalidateQueries({ queryKey: ["builds"] });
    },
  });
  const retry = useMutation({
    mutationFn: async () =>
      unwrap(
        await api.POST("/api/v1/builds/{build_id}/retry", {
          params: { path: { build_id: build.id } },
        }),
      ),
    onSuccess: (next) => {
      queryClient.setQueryData(["build", next.id], next);
      void queryClient.invalidateQueries({ queryKey: ["builds"] });
      void navigate(`/builds/${next.id}`);
    },
  });
  if (!can("developer")) return null;
  const finished = isFinished(build.status);
  return (
    <div className="build-actions">
      <div className="row">
        {!finished && (
          <button
            type="button"
            className="button danger"
            onClick={() => cancel.mutate()}
            disabled={cancel.isPending}
          >
            {cancel.isPending ? "Cancelling…" : "Cancel build"}
          </button>
        )}
        {finished && (
          <button type="button" onClick={() => retry.mutate()} disabled={retry.isPending}>
            {retry.isPending ? "Retrying…" : "Retry"}
          </button>
        )}
      </div>
      {cancel.isError && (
        <p className="error" role="alert">
          Cancel failed: {errorText(cancel.error)}
        </p>
      )}
      {retry.isError && (
        <p className="error" role="alert">
          Retry failed: {errorText(retry.error)}
        </p>
      )}
    </div>
  );
}

interface BuildHeaderProps {
  build: Build;
  workerName: string;
  now: number;
}

export function BuildHeader({ build, workerName, now }: BuildHeaderProps) {
  const duration = runSeconds(build, now);
  return (
    <div className="card build-header">
      <div className="page-head">
        <h1>
          <Link to={`/jobs/${build.job_id}`}>{build.job_name ?? "Job"}</Link>{" "}
          <span className="muted">#{build.number}</span>
        </h1>
        <StatusBadge status={build.status} />
        <div className="spacer" />
        <BuildActions build={build} />
      </div>
      <BuildOrigin build={build} />
      <ApprovalBanner build={build} />
      {build.status === "queued" && build.waiting_reason && !build.awaiting_approval && (
        <p className="build-waiting" role="status">
          Waiting: {build.waiting_reason}
        </p>
      )}
      {build.error_message && (
        <p className="error build-error" role="alert">
          {build.error_message}
        </p>
      )}
      <dl className="build-facts">
        <div>
          <dt>Branch</dt>
          <dd>{build.branch ?? "–"}</dd>
        </div>
        <div>
          <dt>Commit</dt>
          <dd className="mono" title={build.commit_sha ?? undefined}>
            {build.commit_sha ? build.commit_sha.slice(0, 12) : "–"}
          </dd>
        </div>
        <div>
          <dt>Trigger</dt>
          <dd>{triggerLabel(build)}</dd>
        </div>
        <div>
          <dt>Attempt</dt>
          <dd>{build.attempt}</dd>
        </div>
        <div>
          <dt>Worker</dt>
          <dd>{workerName}</dd>
        </div>
        <div>
          <dt>Duration</dt>
          <dd>{formatDuration(duration)}</dd>
        </div>
        <div>
          <dt>Queued</dt>
          <dd title={formatTime(build.queued_at)}>{formatRelative(build.queued_at, now)}</dd>
        </div>
        <div>
          <dt>Started</dt>
          <dd>{formatTime(build.started_at)}</dd>
        </div>
        <div>
          <dt>Finished</dt>
          <dd>{formatTime(build.completed_at)}</dd>
        </div>
        {build.exit_code !== null && (
          <div>
            <dt>Exit code</dt>
            <dd className="mono">{build.exit_code}</dd>
          </div>
        )}
        {build.retry_of && (
          <div>
            <dt>Retry of</dt>
            <dd>
              <Link to={`/builds/${build.retry_of}`}>earlier build</Link>
            </dd>
          </div>
        )}
      </dl>
    </div>
  );
}

function Artifacts({ buildId, finished }: { buildId: string; finished: boolean }) {
  const artifacts = useQuery({
    // Under the build's key: refreshed whenever the build is.
    queryKey: ["build", buildId, "artifacts"],
    queryFn: async () =>
      unwrap(
        await api.GET("/api/v1/builds/{build_id}/artifacts", {
          params: { path: { build_id: buildId } },
        }),
      ).items,
  });
  const [failure, setFailure] = useState<string | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  if (artifacts.isPending) return <Loading what="Loading artifacts" />;
  if (artifacts.isError) return <ErrorMessage error={artifacts.error} />;
  if (artifacts.data.length === 0) {
    return (
      <p className="muted">
        {finished
          ? "This build kept no artifacts. List files under a step's artifacts: in the pipeline to keep them."
          : "No artifacts yet: steps upload them as they finish."}
      </p>
    );
  }
  const download = async (name: string) => {
    setFailure(null);
    setBusy(name);
    try {
      await downloadWithAuth(
        `/api/v1/builds/${encodeURIComponent(buildId)}/artifacts/${encodePath(name)}`,
        name.split("/").pop() || name,
      );
    } catch (err) {
      setFailure(`Download of ${name} failed: ${errorText(err)}`);
    } finally {
      setBusy(null);
    }
  };
  return (
    <>
      {failure && (
        <p className="error" role="alert">
          {failure}
        </p>
      )}
      <div className="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Size</th>
              <th scope="col" className="hide-narrow">
                Uploaded
              </th>
              <th scope="col">
                <span className="visually-hidden">Download</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {artifacts.data.map((artifact) => (
              <tr key={artifact.name}>
                <td className="mono">{artifact.name}</td>
                <td>{formatBytes(artifact.size_bytes)}</td>
                <td className="hide-narrow" title={formatTime(artifact.created_at)}>
                  {formatRelative(artifact.created_at)}
                </td>
                <td>
                  <button
                    type="button"
                    className="button secondary"
                    onClick={() => void download(artifact.name)}
                    disabled={busy === artifact.name}
                    aria-label={`Download ${artifact.name}`}
                  >
                    {busy === artifact.name ? "Downloading…" : "Download"}
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}
