import { canRollBackTo, isActive, previousVersion, rollbackOffered } from "./deployments";
import { deploymentFixture, KUBE_TARGET } from "./fixtures";

const kube = (number: number, status: "succeeded" | "failed" = "succeeded") =>
  deploymentFixture({ id: `d${number}`, number, status, version: `v${number}`, target: KUBE_TARGET });
const script = (number: number) => deploymentFixture({ id: `d${number}`, number, version: `v${number}` });

describe("deployments", () => {
  it("calls waiting and running deployments active", () => {
    expect(isActive({ status: "awaiting_approval" })).toBe(true);
    expect(isActive({ status: "queued" })).toBe(true);
    expect(isActive({ status: "running" })).toBe(true);
    expect(isActive({ status: "rejected" })).toBe(false);
    expect(isActive({ status: "succeeded" })).toBe(false);
  });

  it("finds the successful deployment before the current one, passing over failures", () => {
    const history = [kube(4), kube(3, "failed"), kube(2), kube(1)];
    expect(previousVersion(history, "d4")?.number).toBe(2);
    expect(previousVersion(history, "d1")).toBeNull();
    expect(previousVersion(history, "d9")).toBeNull();
  });

  it("offers Rollback only when the server can redo the rollout", () => {
    expect(rollbackOffered([kube(2), kube(1)], "d2", false)).toBe(true);
    // A script deploy ran on an agent: the server cannot repeat it, either way round.
    expect(rollbackOffered([script(2), kube(1)], "d2", false)).toBe(false);
    expect(rollbackOffered([kube(2), script(1)], "d2", false)).toBe(false);
    // Nothing before it: only if older pages may hold one.
    expect(rollbackOffered([kube(1)], "d1", false)).toBe(false);
    expect(rollbackOffered([kube(1)], "d1", true)).toBe(true);
    expect(rollbackOffered([kube(1)], undefined, true)).toBe(false);
  });

  it("offers Roll back to this on other successful Kubernetes deployments", () => {
    const history = [kube(3), kube(2, "failed"), kube(1)];
    expect(canRollBackTo(history[0]!, "d3", history)).toBe(false); // the current one
    expect(canRollBackTo(history[1]!, "d3", history)).toBe(false); // failed
    expect(canRollBackTo(history[2]!, "d3", history)).toBe(true);
    const scripted = [script(2), kube(1)];
    expect(canRollBackTo(scripted[1]!, "d2", scripted)).toBe(false);
  });
});
