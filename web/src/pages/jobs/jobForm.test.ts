import { ApiError } from "../../api/client";
import { jobFixture } from "../../test/fixtures";
import {
  forgeBody,
  jobToForm,
  newScheduleRow,
  parseEnvLines,
  parseLines,
  scheduleRowProblems,
  schedulesBody,
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

describe("triggers in the job form", () => {
  const base = { ...emptyJobForm(), name: "api" };

  it("reads glob lines trimmed, without blanks or repeats", () => {
    expect(parseLines(" main \n\nrelease/*\nmain")).toEqual(["main", "release/*"]);
    expect(parseLines("")).toEqual([]);
  });

  it("reads KEY=value lines and names the first that is not", () => {
    expect(parseEnvLines("A=1\n\nB= two=2 ")).toEqual({ env: { A: "1", B: " two=2 " }, problem: null });
    expect(parseEnvLines("A=1\nnonsense").problem).toMatch(/nonsense/);
    expect(parseEnvLines("1A=x").problem).toBeTruthy();
  });

  it("sends schedules without blank rows or empty fields", () => {
    const rows = [
      newScheduleRow({ cron: " 0 3 * * * " }),
      newScheduleRow(),
      newScheduleRow({ cron: "*/15 * * * *", branch: "dev", timezone: "Europe/Berlin", env: "NIGHTLY=1" }),
    ];
    expect(schedulesBody(rows)).toEqual([
      { cron: "0 3 * * *", timezone: "UTC" },
      { cron: "*/15 * * * *", branch: "dev", timezone: "Europe/Berlin", env: { NIGHTLY: "1" } },
    ]);
  });

  it("marks a schedule without cron and one with bad variables", () => {
    const rows = [newScheduleRow({ branch: "dev" }), newScheduleRow({ cron: "@daily", env: "oops" }), newScheduleRow()];
    const problems = scheduleRowProblems(rows);
    expect(problems.get(rows[0]!.id)).toMatch(/cron/);
    expect(problems.get(rows[1]!.id)).toMatch(/oops/);
    expect(problems.has(rows[2]!.id)).toBe(false);
    expect(checkJobForm({ ...base, schedules: rows }, true)).toHaveProperty("schedules");
  });

  it("sends no forge when none is chosen, and leaves empty forge fields out", () => {
    expect(forgeBody(base)).toBeNull();
    expect(forgeBody({ ...base, forgeType: "github", forgeTokenSecret: " GH_TOKEN " })).toEqual({
      type: "github",
      token_secret: "GH_TOKEN",
    });
    expect(
      forgeBody({
        ...base,
        forgeType: "gitea",
        forgeTokenSecret: "T",
        forgeApiUrl: "https://gitea.local/api/v1",
        forgeRepository: "team/app",
      }),
    ).toEqual({ type: "gitea", token_secret: "T", api_url: "https://gitea.local/api/v1", repository: "team/app" });
  });

  it("checks the forge's token secret, Gitea's API URL and the secret's length", () => {
    expect(checkJobForm({ ...base, forgeType: "github" }, true).forge).toMatch(/token/);
    expect(checkJobForm({ ...base, forgeType: "gitea", forgeTokenSecret: "T" }, true).forge).toMatch(/API URL/);
    expect(checkJobForm({ ...base, webhookSecret: "short" }, true).webhook_secret).toMatch(/8 to 256/);
    expect(checkJobForm({ ...base, webhookSecret: "long enough" }, true)).toEqual({});
  });

  it("create sends the trigger fields, and the webhook secret only when typed", () => {
    const body = jobCreateBody({
      ...base,
      triggerEvents: ["push"],
      branches: "main\nrelease/*",
      paths: "src/**",
      forkApproval: true,
      publicBadge: true,
      checkoutCredentials: " DEPLOY_KEY ",
    });
    expect(body).toMatchObject({
      trigger_events: ["push"],
      branches: ["main", "release/*"],
      paths: ["src/**"],
      fork_secrets: false,
      fork_approval: true,
      public_badge: true,
      schedules: [],
      checkout_credentials: "DEPLOY_KEY",
    });
    expect(body).not.toHaveProperty("webhook_secret");
    expect(body).not.toHaveProperty("forge");
    expect(body).not.toHaveProperty("secrets_for_forks");
    expect(jobCreateBody({ ...base, webhookSecret: "s3cret-value" }).webhook_secret).toBe("s3cret-value");
  });

  it("update keeps the set secret unless a new one is typed, and clears emptied settings", () => {
    const body = jobUpdateBody({ ...base, checkoutCredentials: "", forgeType: "" });
    expect(body).not.toHaveProperty("webhook_secret");
    expect(body.forge).toBeNull();
    expect(body.checkout_credentials).toBeNull();
    expect(jobUpdateBody({ ...base, webhookSecret: "new-secret" }).webhook_secret).toBe("new-secret");
  });

  it("fills the form from a job, never with a secret", () => {
    const form = jobToForm(
      jobFixture({
        has_webhook_secret: true,
        trigger_events: ["tag", "pull_request", "something new"],
        branches: ["main", "v*"],
        fork_secrets: true,
        forge: { type: "gitlab", token_secret: "GL", api_url: null, repository: "group/app" },
        schedules: [{ cron: "0 3 * * *", branch: null, timezone: "UTC", env: { A: "1" }, next_run_at: null }],
        public_badge: true,
      }),
    );
    expect(form).toMatchObject({
      webhookSecret: "",
      triggerEvents: ["tag", "pull_request"],
      branches: "main\nv*",
      forkSecrets: true,
      forgeType: "gitlab",
      forgeApiUrl: "",
      forgeRepository: "group/app",
      forgeTokenSecret: "GL",
      publicBadge: true,
    });
    expect(form.schedules).toMatchObject([{ cron: "0 3 * * *", branch: "", timezone: "UTC", env: "A=1" }]);
  });

  it("puts the server's complaints on the trigger fields", () => {
    const errors = saveErrors(
      new ApiError("invalid", 422, "invalid", [
        { field: "schedules[0].cron", message: "not a cron expression" },
        { field: "forge.api_url", message: "required for gitea" },
        { field: "webhook_secret", message: "too short" },
        { field: "secrets_for_forks", message: "odd" },
      ]),
    );
    expect(errors.fields.schedules).toBe("not a cron expression");
    expect(errors.fields.forge).toBe("required for gitea");
    expect(errors.fields.webhook_secret).toBe("too short");
    expect(errors.fields.fork_secrets).toBe("odd");
    expect(errors.form).toBeNull();
  });
});
