// Starting a build by hand: a dialog with optional branch, commit and env. Left empty, the
// job's defaults apply, and the form is one Enter away (the first field has the focus).
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useEffect, useId, useRef, useState, type FormEvent } from "react";
import { useNavigate } from "react-router";
import { api, errorText, unwrap, type Job } from "../../api/client";
import { Modal } from "../../components/Dialog";
import { EnvRowsEditor } from "./EnvRowsEditor";
import { buildTriggerBody, envRowProblems, type EnvRow, type TriggerBody } from "./jobForm";

export type TriggerTarget = Pick<Job, "id" | "name" | "branch">;

interface FormProps {
  job: TriggerTarget;
  busy: boolean;
  error: string | null;
  onSubmit: (body: TriggerBody) => void;
  onCancel: () => void;
}

export function TriggerForm({ job, busy, error, onSubmit, onCancel }: FormProps) {
  const id = useId();
  const [branch, setBranch] = useState("");
  const [commitSha, setCommitSha] = useState("");
  const [env, setEnv] = useState<EnvRow[]>([]);
  const [showProblems, setShowProblems] = useState(false);
  const first = useRef<HTMLInputElement>(null);
  useEffect(() => first.current?.focus(), []);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (busy) return;
    if (envRowProblems(env).size > 0) {
      setShowProblems(true);
      return;
    }
    onSubmit(buildTriggerBody({ branch, commitSha, env }));
  };

  return (
    <form className="trigger-form" onSubmit={submit} noValidate>
      <p className="muted small">
        Everything here is optional: press Enter to build{" "}
        {job.branch ? (
          <>
            the branch <span className="mono">{job.branch}</span>
          </>
        ) : (
          "the job's default branch"
        )}{" "}
        at its newest commit.
      </p>
      <label htmlFor={`${id}-branch`}>Branch</label>
      <input
        id={`${id}-branch`}
        ref={first}
        data-autofocus
        value={branch}
        placeholder={job.branch ?? "default branch"}
        autoComplete="off"
        spellCheck={false}
        onChange={(e) => setBranch(e.target.value)}
      />
      <label htmlFor={`${id}-sha`}>Commit SHA</label>
      <input
        id={`${id}-sha`}
        className="mono"
        value={commitSha}
        placeholder="newest commit of the branch"
        autoComplete="off"
        spellCheck={false}
        onChange={(e) => setCommitSha(e.target.value)}
      />
      <EnvRowsEditor
        legend="Environment variables for this build"
        idPrefix={`${id}-env`}
        rows={env}
        onChange={setEnv}
        hint="Added to the job's own variables; a name set in both takes this value."
        error={showProblems && envRowProblems(env).size > 0 ? "Fix the variables marked above." : undefined}
      />
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <div className="modal-actions">
        <button type="button" className="secondary" onClick={onCancel}>
          Cancel
        </button>
        <button type="submit" disabled={busy}>
          {busy ? "Triggering…" : "Trigger build"}
        </button>
      </div>
    </form>
  );
}

/** The trigger dialog, open while `job` is set; a new build opens its page. */
export function TriggerDialog({ job, onClose }: { job: TriggerTarget | null; onClose: () => void }) {
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const trigger = useMutation({
    mutationFn: async ({ jobId, body }: { jobId: string; body: TriggerBody }) =>
      unwrap(await api.POST("/api/v1/jobs/{job_id}/trigger", { params: { path: { job_id: jobId } }, body })),
    onSuccess: (build) => {
      void queryClient.invalidateQueries({ queryKey: ["builds"] });
      void queryClient.invalidateQueries({ queryKey: ["stats"] });
      navigate(`/builds/${build.id}`);
    },
  });
  // The next trigger starts without the last one's error.
  const close = () => {
    trigger.reset();
    onClose();
  };

  return (
    <Modal
      open={job !== null}
      title={
        <>
          Trigger <span className="mono">{job?.name}</span>
        </>
      }
      onClose={close}
    >
      {job && (
        <TriggerForm
          key={job.id}
          job={job}
          busy={trigger.isPending}
          error={trigger.error ? errorText(trigger.error) : null}
          onSubmit={(body) => trigger.mutate({ jobId: job.id, body })}
          onCancel={close}
        />
      )}
    </Modal>
  );
}
