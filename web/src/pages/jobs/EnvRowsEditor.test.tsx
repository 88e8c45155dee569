import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { useState } from "react";
import { EnvRowsEditor } from "./EnvRowsEditor";
import { envRowsToObject, newEnvRow, type EnvRow } from "./jobForm";

function Harness({ initial = [] as EnvRow[], onRows = (_: EnvRow[]) => {} }) {
  const [rows, setRows] = useState(initial);
  return (
    <EnvRowsEditor
      legend="Environment variables"
      idPrefix="env"
      rows={rows}
      onChange={(next) => {
        setRows(next);
        onRows(next);
      }}
    />
  );
}

describe("EnvRowsEditor", () => {
  it("says when there are no variables", () => {
    render(<Harness />);
    expect(screen.getByRole("group", { name: "Environment variables" })).toHaveTextContent("No variables.");
  });

  it("adds a row, focuses its name, and reports what was typed", async () => {
    let last: EnvRow[] = [];
    render(<Harness onRows={(rows) => (last = rows)} />);
    await userEvent.click(screen.getByRole("button", { name: "+ Add variable" }));
    const name = screen.getByLabelText("Name 1");
    await new Promise((r) => requestAnimationFrame(r));
    expect(name).toHaveFocus();
    await userEvent.type(name, "DEPLOY");
    await userEvent.type(screen.getByLabelText("Value 1"), "yes");
    expect(envRowsToObject(last)).toEqual({ DEPLOY: "yes" });
  });

  it("removes the row asked for", async () => {
    let last: EnvRow[] = [];
    render(<Harness initial={[newEnvRow("A", "1"), newEnvRow("B", "2")]} onRows={(rows) => (last = rows)} />);
    await userEvent.click(screen.getByRole("button", { name: "Remove variable A" }));
    expect(envRowsToObject(last)).toEqual({ B: "2" });
    expect(screen.queryByLabelText("Name 2")).toBeNull();
    expect(screen.getByLabelText("Name 1")).toHaveValue("B");
  });

  it("marks a repeated name and a value without a name", () => {
    render(<Harness initial={[newEnvRow("A", "1"), newEnvRow("A", "2"), newEnvRow("", "x")]} />);
    expect(screen.getByText("A is set twice.")).toBeInTheDocument();
    expect(screen.getByText("This value needs a name.")).toBeInTheDocument();
    expect(screen.getAllByLabelText(/Name \d/).map((el) => el.getAttribute("aria-invalid"))).toEqual([
      null,
      "true",
      "true",
    ]);
  });
});
