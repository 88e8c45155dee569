// What a deployment is, in words, and which of an environment's deployments a rollback can go
// back to. Pure: the pages and their tests share it.
import type { Schemas } from "../../api/client";

export type Deployment = Schemas["DeploymentRead"];
export type Environment = Schemas["EnvironmentRead"];
export type EnvironmentDetail = Schemas["EnvironmentDetail"];
export type CurrentDeployment = Schemas["CurrentDeployment"];
export type DeploymentStatus = Deployment["status"];

export const STATUS_WORDS: Record<DeploymentStatus, string> = {
  awaiting_approval: "awaiting approval",
  queued: "queued",
  running: "running",
  succeeded: "succeeded",
  failed: "failed",
  cancelled: "cancelled",
  rejected: "rejected",
};

export const KIND_WORDS: Record<Deployment["kind"], string> = {
  deploy: "deploy",
  rollback: "rollback",
  auto_rollback: "automatic rollback",
};

/** Waits (for an approval or its turn) or runs: it will change without anyone asking. */
export function isActive(deployment: Pick<Deployment, "status">): boolean {
  return deployment.status === "awaiting_approval" || deployment.status === "queued" || deployment.status === "running";
}

/**
 * The server can redo only its own Kubernetes rollouts: a script deploy ran on an agent and
 * cannot be repeated from here. So a rollback needs both the deployment it goes back to and
 * the current one to have a Kubernetes target.
 */
export function canRollBackTo(candidate: Deployment, currentId: string | undefined, history: readonly Deployment[]): boolean {
  if (candidate.status !== "succeeded" || candidate.target === null || candidate.id === currentId) return false;
  const current = history.find((deployment) => deployment.id === currentId);
  // The current one not among the pages loaded: let the server judge it.
  return current === undefined || current.target !== null;
}

/**
 * What a plain Rollback goes back to: the newest successful deployment older than the current
 * one (history is newest first), or null when none is loaded. `more`: older pages exist.
 */
export function previousVersion(history: readonly Deployment[], currentId: string | undefined): Deployment | null {
  const at = history.findIndex((deployment) => deployment.id === currentId);
  if (at < 0) return null;
  return history.slice(at + 1).find((deployment) => deployment.status === "succeeded") ?? null;
}

/** Whether to offer the environment's Rollback button at all. */
export function rollbackOffered(history: readonly Deployment[], currentId: string | undefined, more: boolean): boolean {
  if (currentId === undefined) return false;
  const current = history.find((deployment) => deployment.id === currentId);
  if (current !== undefined && current.target === null) return false;
  const previous = previousVersion(history, currentId);
  if (previous !== null) return previous.target !== null;
  // Nothing earlier loaded: there may be one on a later page (or the current is not loaded).
  return more || current === undefined;
}

/** The server's lower-case phrase ("waiting for approval") as a line of its own. */
export function asSentence(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
