import { screen, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { App } from "../../App";
import { fakeApi } from "../../test/fakeApi";
import { renderWithApp } from "../../test/render";
import { PLUGINS } from "./fixtures";

const answer = (request: { path: string }) =>
  request.path === "/api/v1/plugins" ? { body: { api_version: "1.0", plugins: PLUGINS } } : undefined;

describe("PluginsPage", () => {
  it("shows an admin every plugin, the plugin API, and how many did not load", async () => {
    const api = fakeApi(answer, { role: "admin" });
    renderWithApp(<App />, { route: "/plugins" });
    expect(await screen.findByRole("heading", { name: "Plugins" })).toBeInTheDocument();
    expect(await screen.findByRole("rowheader", { name: "discord" })).toBeInTheDocument();
    expect(screen.getByText("plugin API 1.0")).toBeInTheDocument();
    expect(screen.getByRole("alert")).toHaveTextContent("2 plugins are not loaded");
    const nav = screen.getByRole("navigation", { name: "Main" });
    expect(within(nav).getByRole("link", { name: "Plugins" })).toHaveAttribute("href", "/plugins");
    expect(api.sent.filter((r) => r.path === "/api/v1/plugins")).toHaveLength(1);
  });

  it("is neither linked nor shown for a viewer", async () => {
    const api = fakeApi(answer, { role: "viewer" });
    renderWithApp(<App />, { route: "/plugins" });
    expect(await screen.findByText("This page needs the admin role.")).toBeInTheDocument();
    const nav = screen.getByRole("navigation", { name: "Main" });
    expect(within(nav).queryByRole("link", { name: "Plugins" })).not.toBeInTheDocument();
    expect(api.sent.filter((r) => r.path === "/api/v1/plugins")).toHaveLength(0);
  });

  it("shows the server's refusal", async () => {
    fakeApi(
      (request) =>
        request.path === "/api/v1/plugins"
          ? { status: 403, body: { error: { code: "forbidden", message: "needs the admin role" } } }
          : undefined,
      { role: "admin" },
    );
    renderWithApp(<App />, { route: "/plugins" });
    expect(await screen.findByRole("alert")).toHaveTextContent("needs the admin role");
  });
});
