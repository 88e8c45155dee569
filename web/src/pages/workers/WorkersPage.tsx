// Workers: who is connected, what they can run and do run, and (admins) drain, resume, remove.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, errorText, unwrap, type Worker } from "../../api/client";
import { useAuth } from "../../auth/AuthProvider";
import { ErrorMessage, Loading } from "../../components/Feedback";
import { useWorkers } from "../../lib/queries";
import { useNow } from "../../lib/useNow";
import { RemoveWorkerDialog, WorkersTable, type WorkerAction } from "./WorkersTable";
import "./workers.css";

export function WorkersPage() {
  const { can } = useAuth();
  const isAdmin = can("admin");
  const queryClient = useQueryClient();
  const now = useNow(10_000);
  const workers = useWorkers();
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [removing, setRemoving] = useState<Worker | null>(null);
  const [removeError, setRemoveError] = useState<string | null>(null);

  const setError = (id: string, message: string | null) =>
    setErrors((current) => {
      const next = { ...current };
      if (message) next[id] = message;
      else delete next[id];
      return next;
    });

  const toggle = useMutation({
    mutationFn: async ({ worker, action }: { worker: Worker; action: "drain" | "resume" }) => {
      const path = { params: { path: { worker_id: worker.id } } };
      return action === "drain"
        ? unwrap(await api.POST("/api/v1/workers/{worker_id}/drain", path))
        : unwrap(await api.POST("/api/v1/workers/{worker_id}/resume", path));
    },
    onMutate: ({ worker }) => setError(worker.id, null),
    onError: (error, { worker, action }) => setError(worker.id, `Could not ${action}: ${errorText(error)}`),
    onSettled: () => queryClient.invalidateQueries({ queryKey: ["workers"] }),
  });

  const remove = useMutation({
    mutationFn: async (worker: Worker) => {
      unwrap(
        await api.DELETE("/api/v1/workers/{worker_id}", { params: { path: { worker_id: worker.id } } }),
      );
    },
    onMutate: () => setRemoveError(null),
    onSuccess: () => setRemoving(null),
    onError: (error) => setRemoveError(errorText(error)),
    onSettled: () => queryClient.invalidateQueries({ queryKey: ["workers"] }),
  });

  const onAction = (worker: Worker, action: WorkerAction) => {
    if (action === "remove") {
      setRemoveError(null);
      setRemoving(worker);
    } else {
      toggle.mutate({ worker, action });
    }
  };

  const items = workers.data ?? [];
  const online = items.filter((w) => w.status === "online").length;

  return (
    <>
      <div className="page-head">
        <h1>Workers</h1>
        {workers.isSuccess && items.length > 0 && (
          <span className="muted">
            {online} online of {items.length}
          </span>
        )}
      </div>
      {workers.isPending ? (
        <Loading what="Loading workers" />
      ) : workers.isError ? (
        <ErrorMessage error={workers.error} />
      ) : items.length === 0 ? (
        <StartAgentHelp isAdmin={isAdmin} />
      ) : (
        <>
          <WorkersTable
            workers={items}
            canManage={isAdmin}
            now={now}
            busyId={toggle.isPending ? toggle.variables.worker.id : remove.isPending ? remove.variables.id : null}
            errors={errors}
            onAction={onAction}
          />
          <details className="wk-help">
            <summary>How to add a worker</summary>
            <AgentCommand isAdmin={isAdmin} />
          </details>
        </>
      )}
      <RemoveWorkerDialog
        worker={removing}
        busy={remove.isPending}
        error={removeError}
        onConfirm={() => removing && remove.mutate(removing)}
        onClose={() => {
          if (!remove.isPending) setRemoving(null);
        }}
      />
    </>
  );
}

function AgentCommand({ isAdmin }: { isAdmin: boolean }) {
  const origin = typeof window === "undefined" ? "https://ci.example.com" : window.location.origin;
  return (
    <>
      <p>On any machine that can reach this server, run an agent:</p>
      <pre className="wk-command">
        <code>
          solvyd agent --server {origin} --token-file {"<file holding the agent token>"} [--name NAME] [--labels a,b] [--concurrency N]
        </code>
      </pre>
      <p className="muted small">
        The agent connects out to the server (no inbound port needed), registers, and shows up here.{" "}
        {isAdmin
          ? "Agent registration tokens are managed through the API at /api/v1/agent-tokens (or the server's SOLVYD_AGENT_TOKEN setting)."
          : "Ask an admin for an agent registration token."}
      </p>
    </>
  );
}

export function StartAgentHelp({ isAdmin }: { isAdmin: boolean }) {
  return (
    <section className="card" aria-labelledby="no-workers-title">
      <h2 id="no-workers-title" className="wk-empty-title">
        No workers yet
      </h2>
      <p>Builds wait in the queue until a worker runs them.</p>
      <AgentCommand isAdmin={isAdmin} />
    </section>
  );
}
