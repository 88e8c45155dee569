// Plugins as GET /plugins answers them, for component tests.
import type { Plugin } from "../../api/client";

const NOTHING = { executors: [], notifiers: [], forges: [], artifact_stores: [] };

export function pluginFixture(overrides: Partial<Plugin> = {}): Plugin {
  return {
    name: "builtin-notifiers",
    version: "0.1.0",
    provides: { ...NOTHING, notifiers: ["email", "slack", "webhook"] },
    builtin: true,
    loaded_in: "server",
    worker: null,
    status: "loaded",
    error: null,
    ...overrides,
  };
}

export const PLUGINS: Plugin[] = [
  pluginFixture({
    name: "builtin-executors",
    loaded_in: "agent",
    worker: "zeta-box",
    provides: { ...NOTHING, executors: ["local", "docker"] },
  }),
  pluginFixture(),
  pluginFixture({
    name: "matrix",
    version: "0.3.0",
    builtin: false,
    loaded_in: "agent",
    worker: "alpha-box",
    status: "failed",
    error: "ModuleNotFoundError: No module named 'nio'",
    provides: NOTHING,
  }),
  pluginFixture({
    name: "discord",
    builtin: false,
    provides: { ...NOTHING, notifiers: ["discord"] },
  }),
  pluginFixture({
    name: "teams",
    version: "2.0.0",
    builtin: false,
    status: "refused",
    error: "built for plugin API 2.0; this server speaks 1.0",
    provides: NOTHING,
  }),
];
