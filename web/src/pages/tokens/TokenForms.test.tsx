import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { ApiError } from "../../api/client";
import { ChangePasswordForm } from "./ChangePasswordForm";
import { CreateTokenForm } from "./CreateTokenForm";

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
