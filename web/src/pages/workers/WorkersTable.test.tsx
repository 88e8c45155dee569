import { render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import type { ReactElement } from "react";
import { MemoryRouter } from "react-router";
import { describe, expect, it, vi } from "vitest";
import type { Worker } from "../../api/client";
import { RemoveWorkerDialog, WorkersTable, workerBuildsHref } from "./WorkersTable";

const NOW = Date.parse("2024-03-05T12:00:00Z");

function worker(fields: Partial<Worker> = {}): Worker {
  return {
    id: "w1",
    name: "builder-1",
    hostname: "ci-host",
    ip: "10.0.0.5",
    labels: ["linux", "docker"],
    executors: ["local", "docker"],
    runs_steps_without_image: true,
    concurrency: 4,
    status: "online",
    health_status: "healthy",
    current_builds: 2,
    registered_at: "2024-03-01T00:00:00Z",
    last_heartbeat: "2024-03-05T11:59:30Z",
    plugins: [],
    ...fields,
  };
}

const WORKERS = [
  worker(),
  worker({ id: "w2", name: "builder-2", status: "draining", current_builds: 0 }),
  worker({ id: "w3", name: "old-box", status: "offline", labels: [], last_heartbeat: "2024-03-04T12:00:00Z" }),
];

function inRouter(ui: ReactElement) {
  return render(<MemoryRouter>{ui}</MemoryRouter>);
}

describe("WorkersTable", () => {
  it("shows each worker's status in words, labels, builds link and heartbeat", () => {
    inRouter(<WorkersTable workers={WORKERS} canManage={false} now={NOW} />);
    const row = screen.getByRole("rowheader", { name: "builder-1" }).closest("tr")!;
    expect(within(row).getByText("online")).toBeInTheDocument();
    expect(within(row).getByRole("list", { name: "Labels of builder-1" })).toHaveTextContent("linuxdocker");
    expect(within(row).getByRole("link", { name: /2 of 4 builds running on builder-1/ })).toHaveAttribute(
      "href",
      workerBuildsHref("w1"),
    );
    expect(within(row).getByText("30s ago")).toBeInTheDocument();
    const old = screen.getByRole("rowheader", { name: "old-box" }).closest("tr")!;
    expect(within(old).getByText("offline")).toBeInTheDocument();
    expect(within(old).getByText("1d ago")).toBeInTheDocument();
    expect(within(old).getByText("none")).toBeInTheDocument();
  });

  it("links to the builds page filtered by the worker", () => {
    expect(workerBuildsHref("abc")).toBe("/builds?worker=abc");
  });

  it("shows a viewer no Drain, Resume or Remove buttons", () => {
    inRouter(<WorkersTable workers={WORKERS} canManage={false} now={NOW} />);
    expect(screen.queryByRole("button")).not.toBeInTheDocument();
    expect(screen.queryByRole("columnheader", { name: "Actions" })).not.toBeInTheDocument();
  });

  it("shows an admin Drain for online, Resume for draining, Remove for all", async () => {
    const onAction = vi.fn();
    inRouter(<WorkersTable workers={WORKERS} canManage now={NOW} onAction={onAction} />);
    expect(screen.getByRole("button", { name: "Drain builder-1" })).toBeInTheDocument();
    expect(screen.queryByRole("button", { name: "Resume builder-1" })).not.toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Resume builder-2" })).toBeInTheDocument();
    expect(screen.queryByRole("button", { name: "Drain builder-2" })).not.toBeInTheDocument();
    // An offline worker cannot be drained (the server refuses), but it can be removed.
    expect(screen.queryByRole("button", { name: "Drain old-box" })).not.toBeInTheDocument();
    expect(screen.getAllByRole("button", { name: /^Remove / })).toHaveLength(3);

    await userEvent.click(screen.getByRole("button", { name: "Drain builder-1" }));
    expect(onAction).toHaveBeenLastCalledWith(WORKERS[0], "drain");
    await userEvent.click(screen.getByRole("button", { name: "Remove old-box" }));
    expect(onAction).toHaveBeenLastCalledWith(WORKERS[2], "remove");
  });

  it("disables the busy row's buttons and shows its error in the row", () => {
    inRouter(
      <WorkersTable workers={WORKERS} canManage now={NOW} busyId="w1" errors={{ w2: "Could not resume: nope" }} />,
    );
    expect(screen.getByRole("button", { name: "Drain builder-1" })).toBeDisabled();
    expect(screen.getByRole("button", { name: "Remove builder-2" })).toBeEnabled();
    const row = screen.getByRole("rowheader", { name: "builder-2" }).closest("tr")!;
    expect(within(row).getByRole("alert")).toHaveTextContent("Could not resume: nope");
  });
});

describe("a worker's plugins", () => {
  it("shows each plugin its agent reported with version and status, and a failed one's error", () => {
    const reporting = worker({
      plugins: [
        {
          name: "builtin-executors",
          version: "0.1.0",
          builtin: true,
          provides: { executors: ["local", "docker"] },
          status: "loaded",
          error: null,
        },
        {
          name: "nomad",
          version: "1.4.2",
          builtin: false,
          provides: { executors: ["nomad"] },
          status: "failed",
          error: "RuntimeError: nomad binary not found",
        },
      ],
    });
    inRouter(<WorkersTable workers={[reporting, WORKERS[2]!]} canManage={false} now={NOW} />);
    expect(screen.getByRole("columnheader", { name: "Plugins" })).toBeInTheDocument();
    const list = screen.getByRole("list", { name: "Plugins of builder-1" });
    const [builtin, nomad] = within(list).getAllByRole("listitem");
    expect(builtin).toHaveTextContent("builtin-executors 0.1.0");
    expect(within(builtin!).getByText("loaded")).toBeInTheDocument();
    expect(within(nomad!).getByText("failed")).toBeInTheDocument();
    expect(within(nomad!).getByText("RuntimeError: nomad binary not found")).toBeVisible();
    // An agent older than plugins reports none.
    const old = screen.getByRole("rowheader", { name: "old-box" }).closest("tr")!;
    expect(within(old).getByText("none reported")).toBeInTheDocument();
  });

  it("copes with an answer that has no plugins field at all", () => {
    const { plugins: _, ...older } = worker();
    inRouter(<WorkersTable workers={[older as Worker]} canManage={false} now={NOW} />);
    expect(screen.getByText("none reported")).toBeInTheDocument();
  });
});

describe("RemoveWorkerDialog", () => {
  it("asks first, and shows the server's refusal", async () => {
    const onConfirm = vi.fn();
    const onClose = vi.fn();
    render(
      <RemoveWorkerDialog
        worker={WORKERS[0]!}
        busy={false}
        error="worker 'builder-1' has 2 builds; drain it and wait, or cancel them"
        onConfirm={onConfirm}
        onClose={onClose}
      />,
    );
    expect(screen.getByRole("heading", { name: "Remove worker builder-1?" })).toBeInTheDocument();
    expect(screen.getByRole("alert")).toHaveTextContent("has 2 builds");
    expect(screen.getByRole("button", { name: "Cancel" })).toHaveFocus();
    await userEvent.click(screen.getByRole("button", { name: "Remove worker" }));
    expect(onConfirm).toHaveBeenCalledOnce();
    await userEvent.click(screen.getByRole("button", { name: "Cancel" }));
    expect(onClose).toHaveBeenCalled();
  });

  it("renders nothing to read while closed", () => {
    render(<RemoveWorkerDialog worker={null} busy={false} error={null} onConfirm={vi.fn()} onClose={vi.fn()} />);
    expect(screen.queryByRole("heading")).not.toBeInTheDocument();
  });
});
