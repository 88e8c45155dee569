import { render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { ApiError, type Schemas } from "../api/client";
import { TokenTable } from "./TokenTable";

const NOW = Date.parse("2025-06-01T12:00:00Z");
const base: Schemas["TokenRead"] = {
  id: "t1",
  user_id: "u1",
  name: "laptop CLI",
  scopes: ["read", "write"],
  created_at: "2025-05-01T12:00:00Z",
  expires_at: "2025-07-01T12:00:00Z",
  last_used_at: "2025-06-01T11:00:00Z",
  revoked: false,
  revoked_at: null,
};

describe("TokenTable", () => {
  it("shows status, last use and expiry in words, and revokes only after confirming", async () => {
    const user = userEvent.setup();
    const onRevoke = vi.fn().mockResolvedValue(undefined);
    const tokens: Schemas["TokenRead"][] = [
      base,
      { ...base, id: "t2", name: "old", revoked: true, revoked_at: "2025-05-20T00:00:00Z" },
      { ...base, id: "t3", name: "stale", expires_at: "2025-05-31T00:00:00Z", last_used_at: null },
    ];
    render(
      <TokenTable
        tokens={tokens}
        kind="personal"
        caption="Your API tokens"
        onRevoke={onRevoke}
        revokeWarning="It stops working at once."
        now={NOW}
      />,
    );
    const row = (name: string) => screen.getByRole("rowheader", { name }).closest("tr") as HTMLElement;
    expect(within(row("laptop CLI")).getByText("Active")).toBeInTheDocument();
    expect(within(row("laptop CLI")).getByText("1h ago")).toBeInTheDocument();
    expect(within(row("laptop CLI")).getByText("in 30 days")).toBeInTheDocument();
    expect(within(row("old")).getByText(/^Revoked/)).toBeInTheDocument();
    expect(within(row("stale")).getByText("Expired")).toBeInTheDocument();
    expect(within(row("stale")).getByText("never")).toBeInTheDocument();
    // Only active tokens can be revoked.
    expect(screen.getAllByRole("button", { name: /^Revoke/ })).toHaveLength(1);

    await user.click(screen.getByRole("button", { name: "Revoke laptop CLI" }));
    const dialog = screen.getByRole("dialog", { name: "Revoke “laptop CLI”?" });
    await user.click(within(dialog).getByRole("button", { name: "Cancel" }));
    expect(onRevoke).not.toHaveBeenCalled();
    await user.click(screen.getByRole("button", { name: "Revoke laptop CLI" }));
    await user.click(within(screen.getByRole("dialog")).getByRole("button", { name: "Revoke" }));
    expect(onRevoke).toHaveBeenCalledWith(base);
  });

  it("shows agent tokens without access or expiry, and a refused revoke under the row", async () => {
    const user = userEvent.setup();
    const onRevoke = vi.fn().mockRejectedValue(new ApiError("no such token", 404, "not_found"));
    const { id, name, created_at, last_used_at, revoked, revoked_at } = base;
    render(
      <TokenTable
        tokens={[{ id, name, created_at, last_used_at, revoked, revoked_at }]}
        kind="agent"
        caption="Agent registration tokens"
        onRevoke={onRevoke}
        revokeWarning="No new agent can register with it."
        now={NOW}
      />,
    );
    expect(screen.getAllByRole("columnheader").map((th) => th.textContent)).toEqual([
      "Name",
      "Status",
      "Created",
      "Last used",
      "Actions",
    ]);
    await user.click(screen.getByRole("button", { name: "Revoke laptop CLI" }));
    const dialog = screen.getByRole("dialog", { name: "Revoke “laptop CLI”?" });
    expect(dialog).toHaveAccessibleDescription("No new agent can register with it.");
    expect(within(dialog).getByRole("button", { name: "Cancel" })).toHaveFocus();
    await user.click(within(dialog).getByRole("button", { name: "Revoke" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("Could not revoke laptop CLI: no such token");
  });
});
