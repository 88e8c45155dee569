// What started a build (the forge's event: a push, a tag, a pull request; a schedule; a person)
// and, for a build of a pull request from a fork that the job holds for approval, the banner
// with the Approve button.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { api, errorText, unwrap, type Build } from "../../api/client";
import { useAuth } from "../../auth/AuthProvider";
import { commitTitle } from "../../lib/builds";

const EVENT_WORDS: Record<string, string> = {
  push: "Push",
  tag: "Tag",
  pull_request: "Pull request",
  cron: "Schedule",
  manual: "Started by hand",
  retry: "Retry",
};

function eventWords(event: string): string {
  return EVENT_WORDS[event] ?? event;
}

/** One or two lines under the build's title: the event, the pull request, the commit. */
export function BuildOrigin({ build }: { build: Build }) {
  const pr = build.pull_request ?? null;
  const event = build.event ?? build.trigger;
  const title = commitTitle(build.commit_message);
  return (
    <div className="build-origin" aria-label="What started this build">
      <p className="build-origin-event">
        {build.trigger === "retry" && event !== "retry" ? (
          <>Retry of a build started by: {eventWords(event).toLowerCase()}</>
        ) : (
          eventWords(event)
        )}
        {build.tag && (
          <>
            {" "}
            <span className="mono origin-chip">{build.tag}</span>
          </>
        )}
        {!build.tag && !pr && build.branch && (event === "push" || event === "cron") && (
          <>
            {event === "push" ? " to " : " on "}
            <span className="mono">{build.branch}</span>
          </>
        )}
        {pr && (
          <>
            {" "}
            <strong>#{pr.number}</strong> {pr.title}{" "}
            <span className="mono origin-branches">
              {pr.source_branch} <span aria-label="into">→</span> {pr.target_branch}
            </span>
            {pr.from_fork && <span className="origin-chip fork-chip">from a fork</span>}
          </>
        )}
      </p>
      {(title || build.commit_author) && (
        <p className="build-origin-commit">
          {title && <span className="commit-title">{title}</span>}
          {build.commit_author && (
            <span className="muted">
              {title ? " — " : "Commit by "}
              {build.commit_author}
            </span>
          )}
        </p>
      )}
      {build.approved_by && <p className="small muted">Approved by {build.approved_by}.</p>}
    </div>
  );
}

/** "Waiting for approval" with the Approve button (developers and admins). */
export function ApprovalBanner({ build }: { build: Build }) {
  const { can } = useAuth();
  const queryClient = useQueryClient();
  const approve = useMutation({
    mutationFn: async () =>
      unwrap(await api.POST("/api/v1/builds/{build_id}/approve", { params: { path: { build_id: build.id } } })),
    onSuccess: (approved) => {
      queryClient.setQueryData(["build", approved.id], approved);
      void queryClient.invalidateQueries({ queryKey: ["builds"] });
    },
    onSettled: () => {
      // A 409 means someone else approved it (or it was cancelled): show what it is now.
      void queryClient.invalidateQueries({ queryKey: ["build", build.id] });
    },
  });
  if (!build.awaiting_approval) return null;
  return (
    <div className="approval-banner" role="region" aria-label="Waiting for approval">
      <div className="approval-text">
        <strong>Waiting for approval.</strong>{" "}
        {build.pull_request?.from_fork
          ? "This build of a pull request from a fork runs once a developer has checked the change and approves it."
          : "This build runs once a developer approves it."}
        {!can("developer") && <span className="muted"> A developer or an admin can approve it.</span>}
      </div>
      {can("developer") && (
        <button type="button" onClick={() => approve.mutate()} disabled={approve.isPending}>
          {approve.isPending ? "Approving…" : "Approve"}
        </button>
      )}
      {approve.isError && (
        <p className="error approval-error" role="alert">
          Approval failed: {errorText(approve.error)}
        </p>
      )}
    </div>
  );
}
