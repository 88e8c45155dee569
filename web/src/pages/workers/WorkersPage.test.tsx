import { render, screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { StartAgentHelp } from "./WorkersPage";

describe("StartAgentHelp", () => {
  it("tells an admin how to start an agent and where the agent tokens are", () => {
    render(<StartAgentHelp isAdmin />);
    expect(screen.getByRole("heading", { name: "No workers yet" })).toBeInTheDocument();
    expect(screen.getByText(/solvyd agent --server http:\/\/localhost(:\d+)? --token-file/)).toBeInTheDocument();
    expect(screen.getByText(/\/api\/v1\/agent-tokens/)).toBeInTheDocument();
  });
  it("sends a viewer to an admin for a token", () => {
    render(<StartAgentHelp isAdmin={false} />);
    expect(screen.getByText(/Ask an admin for an agent registration token/)).toBeInTheDocument();
    expect(screen.queryByText(/\/api\/v1\/agent-tokens/)).not.toBeInTheDocument();
  });
});
