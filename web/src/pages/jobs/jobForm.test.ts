import { ApiError } from "../../api/client";
import {
  buildTriggerBody,
  checkJobForm,
  emptyJobForm,
  envRowProblems,
  envRowsToObject,
  jobCreateBody,
  jobUpdateBody,
  newEnvRow,
  parseLabels,
  saveErrors,
} from "./jobForm";

describe("parseLabels", () => {
  it("splits on commas, trims, drops empties and repeats", () => {
    expect(parseLabels(" linux, docker,,gpu , docker ")).toEqual(["linux", "docker", "gpu"]);
  });
  it("reads nothing from blank text", () => {
    expect(parseLabels("")).toEqual([]);
    expect(parseLabels(" , ,")).toEqual([]);
  });
  it("accepts newlines as separators too", () => {
    expect(parseLabels("a\nb, c")).toEqual(["a", "b", "c"]);
  });
});

describe("buildTriggerBody", () => {
  it("omits every empty field", () => {
    expect(buildTriggerBody({ branch: "", commitSha: "  ", env: [newEnvRow()] })).toEqual({});
  });
  it("keeps what was given, trimmed", () => {
    const body = buildTriggerBody({
      branch: " feature/x ",
      commitSha: "abc123",
      env: [newEnvRow("DEPLOY", "yes"), newEnvRow("", ""), newEnvRow(" EMPTY ", "")],
    });
    expect(body).toEqual({ branch: "feature/x", commit_sha: "abc123", env: { DEPLOY: "yes", EMPTY: "" } });
  });
  it("leaves the branch out when only env is set", () => {
    expect(buildTriggerBody({ branch: "", commitSha: "", env: [newEnvRow("A", "1")] })).toEqual({ env: { A: "1" } });
  });
});

describe("env rows", () => {
  it("turns rows into an object, skipping nameless rows and keeping values as typed", () => {
    expect(envRowsToObject([newEnvRow("A", " spaced "), newEnvRow("", "lost")])).toEqual({ A: " spaced " });
  });
  it("names what is wrong with a row", () => {
    const rows = [newEnvRow("A", "1"), newEnvRow("A", "2"), newEnvRow("", "x"), newEnvRow("1BAD", "")];
    const problems = envRowProblems(rows);
    expect(problems.get(rows[0]!.id)).toBeUndefined();
    expect(problems.get(rows[1]!.id)).toMatch(/twice/);
    expect(problems.get(rows[2]!.id)).toMatch(/needs a name/);
    expect(problems.get(rows[3]!.id)).toMatch(/digit/);
  });
});

describe("job bodies", () => {
  const values = {
    ...emptyJobForm(),
    name: " api ",
    labels: "linux, docker",
    timeoutSeconds: "600",
    env: [newEnvRow("A", "1")],
  };
  it("create leaves out what was left empty", () => {
    const body = jobCreateBody(values);
    expect(body).toMatchObject({ name: "api", labels: ["linux", "docker"], timeout_seconds: 600, env: { A: "1" } });
    expect(body).not.toHaveProperty("scm_url");
    expect(body).not.toHaveProperty("pipeline_path");
    expect(body).not.toHaveProperty("max_concurrent_builds");
    expect(typeof body.pipeline).toBe("string");
  });
  it("a pipeline from the repository sends no pipeline text and the default path", () => {
    const body = jobCreateBody({ ...values, scmUrl: "https://x/r.git", pipelineSource: "repository" });
    expect(body).not.toHaveProperty("pipeline");
    expect(body.pipeline_path).toBe(".solvyd.yml");
  });
  it("update clears emptied fields with null and never sends the name", () => {
    const body = jobUpdateBody({ ...values, branch: "", timeoutSeconds: "" });
    expect(body).not.toHaveProperty("name");
    expect(body.branch).toBeNull();
    expect(body.timeout_seconds).toBeNull();
  });
  it("the browser's own checks", () => {
    expect(checkJobForm({ ...emptyJobForm(), name: "" }, true)).toHaveProperty("name");
    expect(checkJobForm({ ...emptyJobForm(), name: "x", timeoutSeconds: "1.5" }, true)).toHaveProperty("timeout_seconds");
    expect(checkJobForm({ ...emptyJobForm(), name: "x", pipelineSource: "repository" }, true)).toHaveProperty("scm_url");
    expect(checkJobForm({ ...emptyJobForm(), name: "x" }, true)).toEqual({});
  });
});

describe("saveErrors", () => {
  it("puts a taken name on the name field", () => {
    const errors = saveErrors(new ApiError("a job named 'x' already exists", 409, "conflict"));
    expect(errors.fields.name).toMatch(/already exists/);
    expect(errors.form).toBeNull();
  });
  it("puts request errors on their fields and pipeline problems on their lines", () => {
    const errors = saveErrors(
      new ApiError("invalid", 422, "invalid", [
        { field: "timeout_seconds", message: "must be at least 1" },
        { field: "steps[0].commands", message: "required", line: 3, column: 5 },
        { field: "something_else", message: "odd" },
      ]),
    );
    expect(errors.fields.timeout_seconds).toBe("must be at least 1");
    expect(errors.pipeline).toEqual([{ field: "steps[0].commands", message: "required", line: 3, column: 5 }]);
    expect(errors.fields.pipeline).toBeTruthy();
    expect(errors.form).toBe("something_else: odd");
  });
  it("keeps a message without details for the form", () => {
    const errors = saveErrors(new ApiError("a job needs a pipeline, a build_config or an scm_url", 422, "invalid"));
    expect(errors.form).toMatch(/needs a pipeline/);
  });
});
