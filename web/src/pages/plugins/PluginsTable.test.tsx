import { render, screen, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { PluginsTable } from "./PluginsTable";
import { PLUGINS, pluginFixture } from "./fixtures";

function row(name: string): HTMLElement {
  return screen.getByRole("rowheader", { name }).closest("tr")!;
}

describe("PluginsTable", () => {
  it("lists the server's plugins first, then each agent's by name", () => {
    render(<PluginsTable plugins={PLUGINS} />);
    const names = screen.getAllByRole("rowheader").map((cell) => cell.textContent);
    expect(names).toEqual(["builtin-notifiers", "discord", "teams", "matrix", "builtin-executors"]);
  });

  it("says what each plugin provides, where it is loaded, whether it is built in, and its status", () => {
    render(<PluginsTable plugins={PLUGINS} />);
    const notifiers = row("builtin-notifiers");
    const provides = within(notifiers).getByRole("definition");
    expect(provides).toHaveTextContent("email, slack, webhook");
    expect(within(notifiers).getByRole("term")).toHaveTextContent("Notifiers");
    expect(within(notifiers).getByText("server")).toBeInTheDocument();
    expect(within(notifiers).getByText("yes")).toBeInTheDocument();
    expect(within(notifiers).getByText("loaded")).toBeInTheDocument();

    const executors = row("builtin-executors");
    expect(within(executors).getByText("agent zeta-box")).toBeInTheDocument();
    expect(within(executors).getByRole("definition")).toHaveTextContent("local, docker");
    const discord = row("discord");
    expect(within(discord).getByText("no")).toBeInTheDocument();
    expect(within(discord).getByText("0.1.0")).toBeInTheDocument();
  });

  it("shows the error of a refused or failed plugin under it, tied to its name", () => {
    render(<PluginsTable plugins={PLUGINS} />);
    const teams = row("teams");
    expect(within(teams).getByText("refused")).toBeInTheDocument();
    expect(within(teams).getByText("nothing")).toBeInTheDocument();
    expect(screen.getByRole("rowheader", { name: "teams" })).toHaveAccessibleDescription(
      "teams refused: built for plugin API 2.0; this server speaks 1.0",
    );
    const matrixError = screen.getByText(/No module named 'nio'/);
    expect(matrixError).toHaveTextContent("matrix failed: ModuleNotFoundError: No module named 'nio'");
    // The error sits in the row right under its plugin's row.
    expect(row("matrix").nextElementSibling).toContainElement(matrixError);
    expect(row("discord").nextElementSibling).toBe(row("teams"));
  });

  it("shows a kind a newer server adds, and copes with a missing version", () => {
    const plugin = pluginFixture({
      name: "steps",
      version: null,
      provides: { executors: [], notifiers: [], forges: [], artifact_stores: [], step_types: ["deploy"] } as never,
    });
    render(<PluginsTable plugins={[plugin]} />);
    expect(within(row("steps")).getByRole("term")).toHaveTextContent("step types");
    expect(within(row("steps")).getByText("–")).toBeInTheDocument();
  });

  it("shows server text as text, never as markup", () => {
    const hostile = '<img src=x onerror="alert(1)">';
    render(<PluginsTable plugins={[pluginFixture({ name: hostile, status: "failed", error: hostile })]} />);
    expect(screen.getByRole("rowheader", { name: hostile })).toBeInTheDocument();
    expect(document.querySelector("img")).toBeNull();
  });
});
