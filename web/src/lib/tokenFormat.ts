// How a token's state and dates read on screen. Pure, so tests can pin them.

export interface TokenDates {
  revoked: boolean;
  revoked_at: string | null;
  expires_at?: string | null;
}

export type TokenState = "active" | "expired" | "revoked";

export function tokenState(token: TokenDates, now = Date.now()): TokenState {
  if (token.revoked) return "revoked";
  if (token.expires_at && Date.parse(token.expires_at) <= now) return "expired";
  return "active";
}

export const STATE_LABEL: Record<TokenState, string> = {
  active: "Active",
  expired: "Expired",
  revoked: "Revoked",
};

/** "in 3 days", "in 5 hours", "today"... for a time ahead; "expired" once it has passed. */
export function formatUntil(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return "never";
  const seconds = (Date.parse(iso) - now) / 1000;
  if (seconds <= 0) return "expired";
  if (seconds < 3600) return `in ${Math.max(1, Math.round(seconds / 60))} min`;
  if (seconds < 86400) {
    const hours = Math.round(seconds / 3600);
    return `in ${hours} hour${hours === 1 ? "" : "s"}`;
  }
  const days = Math.round(seconds / 86400);
  return `in ${days} day${days === 1 ? "" : "s"}`;
}

export type Access = "read" | "write" | "admin";

/** The scopes for an access level: the token acts with its owner's role capped by the widest. */
export function scopesFor(access: Access): Access[] {
  if (access === "admin") return ["read", "write", "admin"];
  if (access === "write") return ["read", "write"];
  return ["read"];
}

/** The widest of a token's scopes, as a word for the table. */
export function accessOf(scopes: readonly string[]): string {
  if (scopes.includes("admin")) return "admin";
  if (scopes.includes("write")) return "write";
  if (scopes.includes("read")) return "read";
  return scopes.join(", ") || "–";
}
