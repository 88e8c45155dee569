import { render, screen, within } from "@testing-library/react";
import { StatusReports, type StatusReport } from "./StatusReports";

const NOW = Date.parse("2030-01-01T12:00:00Z");

function report(overrides: Partial<StatusReport>): StatusReport {
  return {
    forge: "github",
    context: "solvyd/api",
    state: "pending",
    status: "sent",
    attempts: 1,
    last_error: null,
    response_status: 201,
    response_body: null,
    updated_at: "2030-01-01T11:59:00Z",
    ...overrides,
  };
}

describe("StatusReports", () => {
  it("lists each report, and a failed one with its error and the forge's answer", () => {
    render(
      <StatusReports
        now={NOW}
        reports={[
          report({}),
          report({ state: "running", status: "pending", attempts: 2, last_error: "timed out", response_status: null }),
          report({
            state: "success",
            status: "failed",
            attempts: 9,
            last_error: "the forge refused the token",
            response_status: 401,
            response_body: '{"message":"Bad credentials"}',
          }),
        ]}
      />,
    );
    expect(screen.getByRole("alert")).toHaveTextContent("1 report could not be sent to the forge");
    const rows = screen.getAllByRole("row").slice(1);
    expect(rows[0]).toHaveTextContent("pending");
    expect(within(rows[0]!).getByText("sent")).toBeInTheDocument();
    expect(rows[0]).toHaveTextContent("1m ago");
    expect(within(rows[1]!).getByText("sending")).toBeInTheDocument();
    expect(rows[2]).toHaveTextContent("Retrying after: timed out");
    expect(within(rows[3]!).getByText("failed")).toBeInTheDocument();
    expect(rows[4]).toHaveTextContent("the forge refused the token");
    expect(rows[4]).toHaveTextContent('401 {"message":"Bad credentials"}');
  });

  it("shows nothing for a build without reports", () => {
    const { container } = render(<StatusReports now={NOW} reports={[]} />);
    expect(container).toBeEmptyDOMElement();
  });
});
