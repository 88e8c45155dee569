import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { ApiError, type User } from "../../api/client";
import { CreateUserForm, generatePassword } from "./CreateUserForm";

const created: User = {
  id: "00000000-0000-0000-0000-000000000001",
  username: "alice",
  role: "viewer",
  disabled: false,
  created_at: "2025-06-01T12:00:00Z",
};

describe("CreateUserForm", () => {
  it("shows the password rules and each problem next to its field, without sending", async () => {
    const user = userEvent.setup();
    const onCreate = vi.fn();
    render(<CreateUserForm onCreate={onCreate} />);
    expect(screen.getAllByText(/at least 8 characters/i).length).toBeGreaterThan(0);
    await user.type(screen.getByLabelText("Username"), "bad name");
    await user.type(screen.getByLabelText("Password"), "short");
    await user.click(screen.getByRole("button", { name: "Add user" }));
    expect(onCreate).not.toHaveBeenCalled();
    expect(screen.getByLabelText("Username")).toHaveAttribute("aria-invalid", "true");
    expect(screen.getByLabelText("Username")).toHaveAccessibleDescription(expect.stringMatching(/cannot contain spaces/));
    expect(screen.getByLabelText("Password")).toHaveAccessibleDescription(expect.stringMatching(/too short: 5/));
  });

  it("sends a valid user (trimmed name, chosen role) and clears the form", async () => {
    const user = userEvent.setup();
    const onCreate = vi.fn().mockResolvedValue(created);
    render(<CreateUserForm onCreate={onCreate} />);
    await user.type(screen.getByLabelText("Username"), " alice ");
    await user.selectOptions(screen.getByLabelText("Role"), "viewer");
    await user.type(screen.getByLabelText("Password"), "correct horse");
    await user.type(screen.getByLabelText("Repeat the password"), "correct horse");
    await user.click(screen.getByRole("button", { name: "Add user" }));
    expect(onCreate).toHaveBeenCalledWith({ username: "alice", role: "viewer", password: "correct horse" });
    expect(await screen.findByRole("status")).toHaveTextContent(/alice was created as viewer/);
    expect(screen.getByLabelText("Password")).toHaveValue("");
  });

  it("shows the server's answer when it refuses", async () => {
    const user = userEvent.setup();
    const onCreate = vi.fn().mockRejectedValue(new ApiError("a user named 'alice' already exists", 409, "conflict"));
    render(<CreateUserForm onCreate={onCreate} />);
    await user.type(screen.getByLabelText("Username"), "alice");
    await user.click(screen.getByRole("button", { name: "Generate a password" }));
    expect(screen.getByLabelText("Password")).toHaveAttribute("type", "text");
    await user.click(screen.getByRole("button", { name: "Add user" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("already exists");
  });

  it("generates passwords that pass the rules", () => {
    const a = generatePassword();
    expect(a).toHaveLength(20);
    expect(a).not.toBe(generatePassword());
  });
});
