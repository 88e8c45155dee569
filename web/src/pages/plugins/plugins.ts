// How a plugin is described on the Plugins and Workers pages: what it adds and where it runs.
import type { Plugin, WorkerPlugin } from "../../api/client";

const KIND_LABELS: Record<string, string> = {
  executors: "Executors",
  notifiers: "Notifiers",
  forges: "Forges",
  artifact_stores: "Artifact stores",
};
const KIND_ORDER = Object.keys(KIND_LABELS);

export interface Provided {
  kind: string;
  label: string;
  names: string[];
}

/** What a plugin adds, kind by kind, leaving out kinds it adds nothing to. A kind a newer
 * server names is shown too, after the known ones. */
export function provided(provides: WorkerPlugin["provides"] | Plugin["provides"] | null | undefined): Provided[] {
  const entries = Object.entries((provides ?? {}) as Record<string, string[] | undefined>);
  const rank = (kind: string) => (KIND_ORDER.includes(kind) ? KIND_ORDER.indexOf(kind) : KIND_ORDER.length);
  return entries
    .filter(([, names]) => Array.isArray(names) && names.length > 0)
    .sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b))
    .map(([kind, names]) => ({
      kind,
      label: KIND_LABELS[kind] ?? kind.replace(/_/g, " "),
      names: names ?? [],
    }));
}

export function whereLoaded(plugin: Plugin): string {
  return plugin.loaded_in === "agent" ? `agent ${plugin.worker ?? "?"}` : "server";
}

/** The server's plugins first, then each agent's, agents by name; the server's order within. */
export function inReadingOrder(plugins: readonly Plugin[]): Plugin[] {
  const key = (p: Plugin) => (p.loaded_in === "server" ? "" : `agent:${p.worker ?? ""}`);
  return [...plugins].sort((a, b) => key(a).localeCompare(key(b)));
}

export function isTrouble(plugin: { status: string }): boolean {
  return plugin.status !== "loaded";
}
