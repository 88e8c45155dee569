// Small helpers the builds pages share: build states, and authenticated downloads.
import { ApiError, type BuildStatus, type Step } from "../../api/client";
import { authFetch } from "../../auth/session";

export const BUILD_STATUSES: BuildStatus[] = [
  "queued",
  "running",
  "success",
  "failure",
  "cancelled",
  "error",
];

export function isFinished(status: BuildStatus | Step["status"]): boolean {
  return status !== "queued" && status !== "running" && status !== "pending";
}

/** Fetch a file with the session's bearer token and hand it to the browser as a download. */
export async function downloadWithAuth(url: string, filename: string): Promise<void> {
  const response = await authFetch(new Request(url));
  if (!response.ok) {
    let message = `The server answered ${response.status}.`;
    let code = "error";
    try {
      const body = (await response.json()) as { error?: { message?: string; code?: string } };
      message = body.error?.message ?? message;
      code = body.error?.code ?? code;
    } catch {
      // not JSON: keep the status line
    }
    throw new ApiError(message, response.status, code);
  }
  const blob = await response.blob();
  const href = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = href;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  // The browser has started the download from the blob by now; give it time to copy it.
  window.setTimeout(() => URL.revokeObjectURL(href), 60_000);
}

/** A path with slashes (an artifact's name) as URL path segments. */
export function encodePath(path: string): string {
  return path.split("/").map(encodeURIComponent).join("/");
}
