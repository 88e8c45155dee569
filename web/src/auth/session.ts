// The browser's login session: a short-lived access token and a one-time refresh token
// (POST /auth/refresh rotates it). Both live in localStorage so a reload or a second tab stays
// signed in. A refresh token sent twice ends the whole session on the server, so refreshes are
// serialised across tabs with a Web Lock, and each re-reads the store after taking the lock.

const STORE_KEY = "solvyd.session";
const REFRESH_LOCK = "solvyd.refresh";
// Refresh this long before the access token expires, so a request never races its expiry.
const EXPIRY_MARGIN_MS = 30_000;

export interface StoredSession {
  accessToken: string;
  refreshToken: string;
  expiresAt: number; // epoch ms
}

interface LoginAnswer {
  access_token: string;
  refresh_token: string;
  expires_in: number;
}

type Listener = (signedIn: boolean) => void;
const listeners = new Set<Listener>();

export function onSessionChange(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function emit(signedIn: boolean): void {
  for (const listener of listeners) listener(signedIn);
}

export function readSession(): StoredSession | null {
  try {
    const raw = localStorage.getItem(STORE_KEY);
    if (!raw) return null;
    const parsed = JSON.parse(raw) as StoredSession;
    return parsed.accessToken && parsed.refreshToken ? parsed : null;
  } catch {
    return null;
  }
}

function store(answer: LoginAnswer): StoredSession {
  const session = {
    accessToken: answer.access_token,
    refreshToken: answer.refresh_token,
    expiresAt: Date.now() + answer.expires_in * 1000,
  };
  localStorage.setItem(STORE_KEY, JSON.stringify(session));
  return session;
}

export function clearSession(): void {
  const had = readSession() !== null;
  localStorage.removeItem(STORE_KEY);
  if (had) emit(false);
}

// Another tab signing in or out changes this one too.
if (typeof window !== "undefined") {
  window.addEventListener("storage", (event) => {
    if (event.key === STORE_KEY) emit(event.newValue !== null);
  });
}

export class LoginError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

async function errorMessage(response: Response, fallback: string): Promise<string> {
  try {
    const body = (await response.json()) as { error?: { message?: string } };
    return body.error?.message ?? fallback;
  } catch {
    return fallback;
  }
}

export async function logIn(username: string, password: string): Promise<void> {
  let response: Response;
  try {
    response = await fetch("/api/v1/auth/login", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ username, password }),
    });
  } catch {
    throw new LoginError("The server cannot be reached. Is it running?", 0);
  }
  if (!response.ok) {
    const fallback =
      response.status === 401 ? "Wrong username or password." : `Login failed (${response.status}).`;
    throw new LoginError(await errorMessage(response, fallback), response.status);
  }
  store((await response.json()) as LoginAnswer);
  emit(true);
}

export async function logOut(): Promise<void> {
  const session = readSession();
  clearSession();
  if (session) {
    // Ends the session server-side too; the local copy is gone whatever the answer.
    await fetch("/api/v1/auth/logout", {
      method: "POST",
      headers: { Authorization: `Bearer ${session.accessToken}` },
    }).catch(() => undefined);
  }
}

async function withRefreshLock<T>(work: () => Promise<T>): Promise<T> {
  if (typeof navigator !== "undefined" && navigator.locks) {
    return navigator.locks.request(REFRESH_LOCK, work);
  }
  return work();
}

let inFlight: Promise<string | null> | null = null;

/** Trade the refresh token for a new pair; null (and signed out) if the session is over. */
export function refreshSession(staleToken?: string): Promise<string | null> {
  inFlight ??= withRefreshLock(async () => {
    const current = readSession();
    if (!current) return null;
    // Another tab (or request) refreshed while this one waited for the lock.
    if (current.accessToken !== staleToken && current.expiresAt - EXPIRY_MARGIN_MS > Date.now()) {
      return current.accessToken;
    }
    let response: Response;
    try {
      response = await fetch("/api/v1/auth/refresh", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ refresh_token: current.refreshToken }),
      });
    } catch {
      return current.accessToken; // offline: keep the session, the request will fail visibly
    }
    if (!response.ok) {
      clearSession();
      return null;
    }
    return store((await response.json()) as LoginAnswer).accessToken;
  }).finally(() => {
    inFlight = null;
  });
  return inFlight;
}

/** A usable access token, refreshed first if it is about to expire; null when signed out. */
export async function accessToken(): Promise<string | null> {
  const session = readSession();
  if (!session) return null;
  if (session.expiresAt - EXPIRY_MARGIN_MS > Date.now()) return session.accessToken;
  return refreshSession(session.accessToken);
}

/** fetch with the session's bearer token; a 401 refreshes once and tries again. */
export async function authFetch(request: Request): Promise<Response> {
  const token = await accessToken();
  const retry = request.clone();
  if (token) request.headers.set("Authorization", `Bearer ${token}`);
  const response = await fetch(request);
  if (response.status !== 401 || !token) return response;
  const fresh = await refreshSession(token);
  if (!fresh) return response;
  retry.headers.set("Authorization", `Bearer ${fresh}`);
  return fetch(retry);
}
