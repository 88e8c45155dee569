// Answers the UI's API requests in component tests: the test says what the server answers to
// each method and path, and reads back what was sent. Also signs a user in with a role.
import { vi } from "vitest";
import type { Schemas } from "../api/client";

export interface SentRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  body: unknown;
}

export interface Answer {
  status?: number;
  body?: unknown;
}

type Route = (request: SentRequest) => Answer | undefined;

/** Stubs fetch: each request goes to `route`; what it does not answer is a 404. */
export function fakeApi(route: Route, { role }: { role?: Schemas["Role"] } = {}) {
  const sent: SentRequest[] = [];
  if (role) {
    localStorage.setItem(
      "solvyd.session",
      JSON.stringify({ accessToken: "test-access", refreshToken: "test-refresh", expiresAt: Date.now() + 3_600_000 }),
    );
  }
  const me: Schemas["UserRead"] = {
    id: "00000000-0000-0000-0000-0000000000aa",
    username: "tester",
    role: role ?? "viewer",
    disabled: false,
    created_at: "2030-01-01T00:00:00Z",
  };
  vi.stubGlobal("fetch", async (input: Request) => {
    const url = new URL(input.url);
    const text = input.method === "GET" ? "" : await input.text();
    const request: SentRequest = {
      method: input.method,
      path: url.pathname,
      query: url.searchParams,
      body: text ? (JSON.parse(text) as unknown) : undefined,
    };
    if (request.path === "/api/v1/users/me") return json(200, me);
    sent.push(request);
    const answer = route(request) ?? { status: 404, body: { error: { code: "not_found", message: "not found" } } };
    return json(answer.status ?? 200, answer.body ?? {});
  });
  return { sent };
}

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}
