import { render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { TriggerForm } from "./TriggerDialog";

const JOB = { id: "j1", name: "hello", branch: "main" };

describe("TriggerForm", () => {
  it("triggers with the job's defaults on one Enter", async () => {
    const onSubmit = vi.fn();
    render(<TriggerForm job={JOB} busy={false} error={null} onSubmit={onSubmit} onCancel={() => {}} />);
    expect(screen.getByLabelText("Branch")).toHaveFocus();
    await userEvent.keyboard("{Enter}");
    expect(onSubmit).toHaveBeenCalledWith({});
  });

  it("sends branch, commit and env that were filled in", async () => {
    const onSubmit = vi.fn();
    render(<TriggerForm job={JOB} busy={false} error={null} onSubmit={onSubmit} onCancel={() => {}} />);
    await userEvent.type(screen.getByLabelText("Branch"), "dev");
    await userEvent.type(screen.getByLabelText("Commit SHA"), "abc");
    await userEvent.click(screen.getByRole("button", { name: "+ Add variable" }));
    await waitFor(() => expect(screen.getByLabelText("Name 1")).toHaveFocus());
    await userEvent.type(screen.getByLabelText("Name 1"), "X");
    await userEvent.type(screen.getByLabelText("Value 1"), "1");
    await userEvent.click(screen.getByRole("button", { name: "Trigger build" }));
    expect(onSubmit).toHaveBeenCalledWith({ branch: "dev", commit_sha: "abc", env: { X: "1" } });
  });

  it("does not send env rows with problems", async () => {
    const onSubmit = vi.fn();
    render(<TriggerForm job={JOB} busy={false} error={null} onSubmit={onSubmit} onCancel={() => {}} />);
    await userEvent.click(screen.getByRole("button", { name: "+ Add variable" }));
    // The new row's name takes the focus a frame later: typing elsewhere before that would
    // race it (a loaded machine lost the race once).
    await waitFor(() => expect(screen.getByLabelText("Name 1")).toHaveFocus());
    await userEvent.type(screen.getByLabelText("Value 1"), "orphan");
    await userEvent.click(screen.getByRole("button", { name: "Trigger build" }));
    expect(onSubmit).not.toHaveBeenCalled();
    expect(screen.getByRole("alert")).toHaveTextContent("Fix the variables");
  });

  it("shows the server's error", () => {
    render(
      <TriggerForm job={JOB} busy={false} error="job has no pipeline" onSubmit={() => {}} onCancel={() => {}} />,
    );
    expect(screen.getByRole("alert")).toHaveTextContent("job has no pipeline");
  });
});
