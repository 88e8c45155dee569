import { render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { ApiError } from "../../api/client";
import { ChangePasswordForm } from "./ChangePasswordForm";
import { CreateTokenForm } from "./CreateTokenForm";
import { TokenTable, type ApiToken } from "./TokenTable";

const NOW = Date.parse("2025-06-01T12:00:00Z");
const base: ApiToken = {
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
    const tokens: ApiToken[] = [
      base,
      { ...base, id: "t2", name: "old", revoked: true, revoked_at: "2025-05-20T00:00:00Z" },
      { ...base, id: "t3", name: "stale", expires_at: "2025-05-31T00:00:00Z", last_used_at: null },
    ];
    render(<TokenTable tokens={tokens} onRevoke={onRevoke} now={NOW} />);
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
});

describe("CreateTokenForm", () => {
  it("offers no more access than the user's role and sends the scopes and expiry", async () => {
    const user = userEvent.setup();
    const onCreate = vi.fn().mockResolvedValue(undefined);
    render(<CreateTokenForm role="developer" onCreate={onCreate} />);
    expect(screen.queryByLabelText(/^Admin/)).not.toBeInTheDocument();
    await user.click(screen.getByRole("button", { name: "Create token" }));
    expect(onCreate).not.toHaveBeenCalled();
    expect(screen.getByLabelText("Name")).toHaveAccessibleDescription(expect.stringMatching(/enter a name/i));
    await user.type(screen.getByLabelText("Name"), "deploy script");
    await user.click(screen.getByLabelText(/^Read and write/));
    await user.selectOptions(screen.getByLabelText("Expires after"), "custom");
    await user.clear(screen.getByLabelText("Days until it expires"));
    await user.type(screen.getByLabelText("Days until it expires"), "14");
    await user.click(screen.getByRole("button", { name: "Create token" }));
    expect(onCreate).toHaveBeenCalledWith({ name: "deploy script", scopes: ["read", "write"], expires_in_days: 14 });
  });
});

describe("ChangePasswordForm", () => {
  it("says when the current password is wrong, next to that field", async () => {
    const user = userEvent.setup();
    const onChange = vi.fn().mockRejectedValue(new ApiError("the current password is not right", 403, "forbidden"));
    render(<ChangePasswordForm username="alice" onChange={onChange} />);
    expect(screen.getByText(/other login sessions .* end/i)).toBeInTheDocument();
    await user.type(screen.getByLabelText("Current password"), "wrong-one");
    await user.type(screen.getByLabelText("New password"), "a brand new one");
    await user.type(screen.getByLabelText("Repeat the new password"), "a brand new one");
    await user.click(screen.getByRole("button", { name: "Change password" }));
    expect(onChange).toHaveBeenCalledWith("wrong-one", "a brand new one");
    expect(screen.getByLabelText("Current password")).toHaveAccessibleDescription("This is not your current password.");
    expect(screen.getByRole("alert")).toHaveTextContent("not right");
  });

  it("clears the fields and confirms when it worked", async () => {
    const user = userEvent.setup();
    const onChange = vi.fn().mockResolvedValue(undefined);
    render(<ChangePasswordForm onChange={onChange} />);
    await user.type(screen.getByLabelText("Current password"), "old-password");
    await user.type(screen.getByLabelText("New password"), "new-password-1");
    await user.type(screen.getByLabelText("Repeat the new password"), "new-password-1");
    await user.click(screen.getByRole("button", { name: "Change password" }));
    expect(await screen.findByRole("status")).toHaveTextContent(/password is changed/i);
    expect(screen.getByLabelText("Current password")).toHaveValue("");
    expect(screen.getByLabelText("New password")).toHaveValue("");
  });
});
