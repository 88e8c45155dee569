import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { useState } from "react";
import type { Job } from "../../api/client";
import { fakeApi } from "../../test/fakeApi";
import { jobFixture } from "../../test/fixtures";
import { renderWithApp } from "../../test/render";
import { emptyJobForm, jobUpdateBody, type JobFormValues } from "./jobForm";
import { TriggersSection } from "./TriggersSection";

/** The section with the form's state around it; `seen` gets the values after each change. */
function Harness({ job, seen }: { job?: Job; seen: (values: JobFormValues) => void }) {
  const [values, setValues] = useState<JobFormValues>({ ...emptyJobForm(), name: "api" });
  seen(values);
  return (
    <TriggersSection
      values={values}
      set={(field, value) => setValues((current) => ({ ...current, [field]: value }))}
      error={(field) => (field === "paths" ? "bad glob" : undefined)}
      job={job}
    />
  );
}

describe("TriggersSection", () => {
  // Typing is slow on a busy machine: these tests type little and allow more than the default.
  const SLOW = 20_000;

  it("edits events and globs", async () => {
    const user = userEvent.setup();
    let values = emptyJobForm();
    renderWithApp(<Harness seen={(v) => (values = v)} />);
    await user.click(screen.getByRole("checkbox", { name: "Tag pushed" }));
    expect(values.triggerEvents).toEqual(["push", "pull_request"]);
    await user.type(screen.getByLabelText(/^Branches/), "m{Enter}r/*");
    expect(values.branches).toBe("m\nr/*");
    // The server's complaint sits under its field.
    expect(screen.getByLabelText(/^Paths/)).toHaveAccessibleDescription(/bad glob/);
    await user.click(screen.getByRole("checkbox", { name: /approves them/ }));
    await user.click(screen.getByRole("checkbox", { name: /Public badge/ }));
    expect(jobUpdateBody(values)).toMatchObject({
      trigger_events: ["push", "pull_request"],
      branches: ["m", "r/*"],
      fork_approval: true,
      public_badge: true,
    });
  }, SLOW);

  it("shows the forge's fields once a forge is chosen", async () => {
    const user = userEvent.setup();
    let values = emptyJobForm();
    renderWithApp(<Harness seen={(v) => (values = v)} />);
    expect(screen.queryByLabelText(/Token secret/)).not.toBeInTheDocument();
    await user.selectOptions(screen.getByLabelText("Forge"), "gitea");
    await user.type(screen.getByLabelText(/Token secret/), "T");
    expect(screen.getByLabelText(/API URL/)).toHaveAccessibleDescription(/Required for Gitea/);
    expect(jobUpdateBody(values).forge).toEqual({ type: "gitea", token_secret: "T" });
  }, SLOW);

  it("adds, marks and removes schedule rows", async () => {
    const user = userEvent.setup();
    let values = emptyJobForm();
    renderWithApp(<Harness seen={(v) => (values = v)} />);
    await user.click(screen.getByRole("button", { name: "+ Add schedule" }));
    await user.type(screen.getByLabelText("Cron 1"), "@daily");
    await user.type(screen.getByLabelText("Time zone 1"), "UTC");
    await user.click(screen.getByRole("button", { name: "+ Add schedule" }));
    await user.type(screen.getByLabelText("Branch 2"), "d");
    // A row with a branch and no cron is marked.
    expect(screen.getByText(/needs a cron expression/)).toBeInTheDocument();
    await user.click(screen.getByRole("button", { name: "Remove schedule 2" }));
    expect(screen.queryByText(/needs a cron expression/)).not.toBeInTheDocument();
    expect(jobUpdateBody(values).schedules).toEqual([{ cron: "@daily", timezone: "UTC" }]);
  }, SLOW);

  it("takes a new webhook secret in a password field and never shows the one set", async () => {
    const user = userEvent.setup();
    let values = emptyJobForm();
    renderWithApp(<Harness job={jobFixture({ has_webhook_secret: true })} seen={(v) => (values = v)} />);
    const input = screen.getByLabelText(/^Webhook secret/);
    expect(input).toHaveAttribute("type", "password");
    expect(input).toHaveValue("");
    expect(screen.getByTestId("webhook-secret-state")).toHaveTextContent("set");
    await user.type(input, "a-new-secret");
    expect(values.webhookSecret).toBe("a-new-secret");
  });

  it("removes the webhook secret with a PATCH of null after confirming", async () => {
    const user = userEvent.setup();
    const job = jobFixture({ has_webhook_secret: true });
    const api = fakeApi((request) =>
      request.method === "PATCH" && request.path === `/api/v1/jobs/${job.id}`
        ? { body: { ...job, has_webhook_secret: false } }
        : undefined,
    );
    renderWithApp(<Harness job={job} seen={() => {}} />);
    await user.click(screen.getByRole("button", { name: "Remove secret" }));
    const dialog = screen.getByRole("dialog", { name: "Remove the webhook secret?" });
    await user.click(within(dialog).getByRole("button", { name: "Remove secret" }));
    await waitFor(() => expect(screen.getByTestId("webhook-secret-state")).toHaveTextContent("not set"));
    expect(api.sent).toEqual([
      expect.objectContaining({ method: "PATCH", path: `/api/v1/jobs/${job.id}`, body: { webhook_secret: null } }),
    ]);
    expect(screen.getByRole("status")).toHaveTextContent("The webhook secret was removed.");
    expect(screen.queryByRole("button", { name: "Remove secret" })).not.toBeInTheDocument();
  });

  it("shows why removing the secret failed", async () => {
    const user = userEvent.setup();
    fakeApi(() => ({ status: 403, body: { error: { code: "forbidden", message: "needs the developer role" } } }));
    renderWithApp(<Harness job={jobFixture({ has_webhook_secret: true })} seen={() => {}} />);
    await user.click(screen.getByRole("button", { name: "Remove secret" }));
    await user.click(within(screen.getByRole("dialog")).getByRole("button", { name: "Remove secret" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("needs the developer role");
    expect(screen.getByTestId("webhook-secret-state")).toHaveTextContent("set");
  });
});
