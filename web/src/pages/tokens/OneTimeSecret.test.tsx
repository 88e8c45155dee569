import { fireEvent, render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { useState } from "react";
import { describe, expect, it, vi } from "vitest";
import { CopyField, OneTimeSecret } from "./OneTimeSecret";

const VALUE = "svp_abcdefghijklmnopqrstuvwxyz0123456789";

/** The page's pattern: the secret lives in state, and "Done" drops it. */
function Harness() {
  const [secret, setSecret] = useState<string | null>(VALUE);
  return secret ? (
    <OneTimeSecret title="Your new token" label="API token" value={secret} onDismiss={() => setSecret(null)} />
  ) : (
    <p>gone</p>
  );
}

describe("OneTimeSecret", () => {
  it("shows the value once, read-only, with the store-it-now note", () => {
    render(<Harness />);
    const field = screen.getByLabelText("API token");
    expect(field).toHaveValue(VALUE);
    expect(field).toHaveAttribute("readonly");
    expect(field).toHaveFocus();
    expect(screen.getByText(/it will not be shown again/i)).toBeInTheDocument();
    expect(field).toHaveAccessibleDescription(expect.stringMatching(/will not be shown again/i));
  });

  it("copies the value with the clipboard API", async () => {
    const user = userEvent.setup(); // installs a clipboard stub on navigator
    render(<Harness />);
    await user.click(screen.getByRole("button", { name: /copy api token/i }));
    await waitFor(() => expect(screen.getByRole("status")).toHaveTextContent(/copied/i));
    expect(await navigator.clipboard.readText()).toBe(VALUE);
  });

  it("selects the text when the clipboard API is unavailable", async () => {
    const original = Object.getOwnPropertyDescriptor(navigator, "clipboard");
    Object.defineProperty(navigator, "clipboard", { value: undefined, configurable: true });
    try {
      render(<CopyField label="Token" value={VALUE} />);
      const field = screen.getByLabelText<HTMLInputElement>("Token");
      const select = vi.spyOn(field, "select");
      fireEvent.click(screen.getByRole("button", { name: /copy token/i }));
      await waitFor(() => expect(screen.getByRole("status")).toHaveTextContent(/ctrl\+c/i));
      expect(select).toHaveBeenCalled();
      expect(field).toHaveFocus();
    } finally {
      if (original) Object.defineProperty(navigator, "clipboard", original);
      else Reflect.deleteProperty(navigator, "clipboard");
    }
  });

  it("drops the value when dismissed", async () => {
    const user = userEvent.setup();
    render(<Harness />);
    await user.click(screen.getByRole("button", { name: /done, hide it/i }));
    expect(screen.queryByDisplayValue(VALUE)).not.toBeInTheDocument();
    expect(screen.queryByText(VALUE)).not.toBeInTheDocument();
    expect(screen.getByText("gone")).toBeInTheDocument();
  });
});
