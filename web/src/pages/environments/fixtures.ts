// Whole deployment and environment objects for the tests, each field set; a test overrides what
// it is about.
import type { CurrentDeployment, Deployment, EnvironmentDetail } from "./deployments";

export const BUILD_ID = "22222222-2222-2222-2222-222222222222";

export function deploymentFixture(overrides: Partial<Deployment> = {}): Deployment {
  return {
    id: "d0000000-0000-0000-0000-000000000001",
    environment: "staging",
    number: 1,
    kind: "deploy",
    status: "succeeded",
    waiting_reason: null,
    version: "v1",
    target: null,
    job_id: "11111111-1111-1111-1111-111111111111",
    job_name: "api",
    build_id: BUILD_ID,
    build_number: 7,
    commit_sha: "0123456789abcdef0123456789abcdef01234567",
    step: "ship",
    attempt: 1,
    approval_required: false,
    rollback: "manual",
    rolled_back_from: null,
    rolled_back_by: null,
    requested_by: "alice",
    approved_by: null,
    approved_at: null,
    created_at: "2030-01-01T11:50:00Z",
    queued_at: "2030-01-01T11:50:00Z",
    started_at: "2030-01-01T11:50:01Z",
    finished_at: "2030-01-01T11:51:00Z",
    message: null,
    ...overrides,
  };
}

export const KUBE_TARGET = { namespace: "web", deployment: "app", container: null, image: "registry/app:v1" };

export function currentFixture(deployment: Deployment): CurrentDeployment {
  return {
    deployment_id: deployment.id,
    number: deployment.number,
    version: deployment.version,
    job_name: deployment.job_name,
    build_id: deployment.build_id,
    build_number: deployment.build_number,
    commit_sha: deployment.commit_sha,
    since: deployment.finished_at,
    deployed_by: deployment.requested_by,
    approved_by: deployment.approved_by,
    kind: deployment.kind,
  };
}

export function environmentFixture(overrides: Partial<EnvironmentDetail> = {}): EnvironmentDetail {
  return {
    name: "staging",
    approval_required: false,
    created_at: "2030-01-01T10:00:00Z",
    current: null,
    running: null,
    waiting: 0,
    targets: [],
    history: [],
    next_cursor: null,
    ...overrides,
  };
}
