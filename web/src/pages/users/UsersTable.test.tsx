import { render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { MemoryRouter } from "react-router";
import { describe, expect, it, vi } from "vitest";
import { ApiError, type User } from "../../api/client";
import { UsersTable } from "./UsersTable";

const admin: User = {
  id: "00000000-0000-0000-0000-00000000000a",
  username: "admin",
  role: "admin",
  disabled: false,
  created_at: "2025-01-01T00:00:00Z",
};
const bob: User = { ...admin, id: "00000000-0000-0000-0000-00000000000b", username: "bob", role: "developer" };
const carol: User = { ...admin, id: "00000000-0000-0000-0000-00000000000c", username: "carol", role: "viewer", disabled: true };

function renderTable(onUpdate = vi.fn().mockResolvedValue(undefined)) {
  render(
    <MemoryRouter>
      <UsersTable users={[admin, bob, carol]} meId={admin.id} onUpdate={onUpdate} />
    </MemoryRouter>,
  );
  return onUpdate;
}

function rowOf(name: string): HTMLElement {
  const row = screen.getByRole("rowheader", { name: new RegExp(`^${name}`) }).closest("tr");
  if (!row) throw new Error(`no row for ${name}`);
  return row;
}

describe("UsersTable for the signed-in admin", () => {
  it("renders a labelled role select per row, set to each user's role", () => {
    renderTable();
    expect(screen.getByLabelText("Role of admin")).toHaveValue("admin");
    expect(screen.getByLabelText("Role of bob")).toHaveValue("developer");
    expect(screen.getByLabelText("Role of carol")).toHaveValue("viewer");
    const options = within(screen.getByLabelText("Role of bob")).getAllByRole("option");
    expect(options.map((o) => o.textContent)).toEqual(["viewer", "developer", "admin"]);
    // Status in words, not colour alone.
    expect(within(rowOf("bob")).getByText("Enabled")).toBeInTheDocument();
    expect(within(rowOf("carol")).getByText("Disabled")).toBeInTheDocument();
  });

  it("marks the admin's own row and offers no way to disable themselves", () => {
    renderTable();
    const own = rowOf("admin");
    expect(within(own).getByText("you")).toBeInTheDocument();
    expect(within(own).queryByRole("button", { name: "Disable" })).not.toBeInTheDocument();
    expect(within(own).getByRole("link", { name: "Change my password" })).toHaveAttribute("href", "/tokens#change-password");
    expect(within(rowOf("bob")).getByRole("button", { name: "Disable" })).toBeInTheDocument();
    expect(within(rowOf("carol")).getByRole("button", { name: "Enable" })).toBeInTheDocument();
  });

  it("saves a changed role with a PATCH of just the role", async () => {
    const user = userEvent.setup();
    const onUpdate = renderTable();
    expect(within(rowOf("bob")).queryByRole("button", { name: "Save" })).not.toBeInTheDocument();
    await user.selectOptions(screen.getByLabelText("Role of bob"), "admin");
    await user.click(within(rowOf("bob")).getByRole("button", { name: "Save" }));
    expect(onUpdate).toHaveBeenCalledWith(bob.id, { role: "admin" });
  });

  it("asks before the admin demotes themselves", async () => {
    const user = userEvent.setup();
    const onUpdate = renderTable();
    await user.selectOptions(screen.getByLabelText("Role of admin"), "viewer");
    await user.click(within(rowOf("admin")).getByRole("button", { name: "Save" }));
    expect(onUpdate).not.toHaveBeenCalled();
    const dialog = screen.getByRole("dialog", { name: /give up your admin role/i });
    await user.click(within(dialog).getByRole("button", { name: "Become viewer" }));
    expect(onUpdate).toHaveBeenCalledWith(admin.id, { role: "viewer" });
  });

  it("shows the server's refusal next to the row and puts the select back", async () => {
    const user = userEvent.setup();
    const refusal = new ApiError("'admin' is the last enabled admin; make another user admin first", 409, "conflict");
    renderTable(vi.fn().mockRejectedValue(refusal));
    await user.selectOptions(screen.getByLabelText("Role of admin"), "developer");
    await user.click(within(rowOf("admin")).getByRole("button", { name: "Save" }));
    await user.click(screen.getByRole("button", { name: "Become developer" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("last enabled admin");
    expect(screen.getByLabelText("Role of admin")).toHaveValue("admin");
  });

  it("disables a user only after confirming", async () => {
    const user = userEvent.setup();
    const onUpdate = renderTable();
    await user.click(within(rowOf("bob")).getByRole("button", { name: "Disable" }));
    const dialog = screen.getByRole("dialog", { name: "Disable bob?" });
    await user.click(within(dialog).getByRole("button", { name: "Cancel" }));
    expect(onUpdate).not.toHaveBeenCalled();
    await user.click(within(rowOf("bob")).getByRole("button", { name: "Disable" }));
    await user.click(within(screen.getByRole("dialog")).getByRole("button", { name: "Disable" }));
    expect(onUpdate).toHaveBeenCalledWith(bob.id, { disabled: true });
  });

  it("sets a new password for another user, checked against the rules first", async () => {
    const user = userEvent.setup();
    const onUpdate = renderTable();
    await user.click(within(rowOf("bob")).getByRole("button", { name: "Set password" }));
    const dialog = screen.getByRole("dialog", { name: "New password for bob" });
    await user.type(within(dialog).getByLabelText("New password"), "short");
    await user.click(within(dialog).getByRole("button", { name: "Set password" }));
    expect(onUpdate).not.toHaveBeenCalled();
    expect(within(dialog).getByText(/too short/)).toBeInTheDocument();
    await user.clear(within(dialog).getByLabelText("New password"));
    await user.type(within(dialog).getByLabelText("New password"), "a long passphrase");
    await user.type(within(dialog).getByLabelText("Repeat the new password"), "a long passphrase");
    await user.click(within(dialog).getByRole("button", { name: "Set password" }));
    expect(onUpdate).toHaveBeenCalledWith(bob.id, { password: "a long passphrase" });
    expect(await screen.findByText(/new password set for bob/i)).toBeInTheDocument();
  });
});
