/**
 * Loads the placement policy config names: a built-in by name, or a module
 * file by path (dynamic import). A module that cannot be used is reported
 * and the default policy takes its place. The built-ins (`placements/`) are
 * handed in by the caller: tiers import no policy but their default.
 *
 * @module
 */

import { InvalidConfigError } from "../errors.ts";
import fastestFit from "./fastest_fit.ts";
import type { NamedPolicy, PlacementPolicy } from "./policy.ts";
import { log as logger } from "../observe/mod.ts";

/**
 * The policy used when config names none, and when a configured policy fails.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_POLICY } from "./load_policy.ts";
 * assert.equal(DEFAULT_POLICY, "fastest-fit");
 * ```
 */
export const DEFAULT_POLICY = "fastest-fit";

/**
 * Whether config's `placement` names a module file rather than a built-in.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isPolicyPath } from "./load_policy.ts";
 * assert.equal(isPolicyPath("placements/nearest_gpu.ts"), true);
 * assert.equal(isPolicyPath("round-robin"), false);
 * ```
 */
export function isPolicyPath(spec: string): boolean {
  return spec.includes("/") || /\.(ts|js|mjs)$/.test(spec);
}

/**
 * The default policy, as `loadPolicy()` falls back to it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultPolicy } from "./load_policy.ts";
 * assert.equal(defaultPolicy().name, "fastest-fit");
 * ```
 */
export function defaultPolicy(): NamedPolicy {
  return { name: DEFAULT_POLICY, place: fastestFit };
}

/**
 * Returns the policy `spec` names: one of `builtins` (by default only
 * `fastest-fit`; `strata` hands in `placements/`'s `BUILTIN_POLICIES`) or the
 * path of a module (relative to the working directory) whose default export,
 * or export `place`, is the policy function. A module that fails to load or exports no function is reported
 * through `log` and the default policy is returned. An unknown built-in
 * name is a configuration error.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadPolicy } from "./load_policy.ts";
 * import { BUILTIN_POLICIES } from "../../placements/mod.ts";
 * assert.equal((await loadPolicy("round-robin", { builtins: BUILTIN_POLICIES })).name, "round-robin");
 * const logged: string[] = [];
 * const p = await loadPolicy("placements/missing_policy.ts", { log: (m) => logged.push(m) });
 * assert.equal(p.name, "fastest-fit");
 * assert.ok(logged[0]!.startsWith("Cannot load placement policy 'placements/missing_policy.ts': "));
 * ```
 */
export async function loadPolicy(
  spec: string,
  options: {
    readonly builtins?: Readonly<Record<string, PlacementPolicy>>;
    readonly log?: (message: string) => void;
  } = {},
): Promise<NamedPolicy> {
  const builtins = options.builtins ?? { [DEFAULT_POLICY]: fastestFit };
  const builtin = builtins[spec];
  if (builtin !== undefined) return { name: spec, place: builtin };
  if (!isPolicyPath(spec)) {
    throw new InvalidConfigError(
      `Unknown placement policy '${spec}': expected one of ${
        Object.keys(builtins).join(", ")
      } or the path of a policy module`,
    );
  }
  const log = options.log ??
    ((message: string) => logger.warn("placement policy", { message }));
  const reject = (reason: string): NamedPolicy => {
    log(`Cannot load placement policy '${spec}': ${reason}; using ${DEFAULT_POLICY}`);
    return defaultPolicy();
  };
  let module: Record<string, unknown>;
  try {
    module = await import(new URL(spec, `file://${Deno.cwd()}/`).href);
  } catch (e) {
    return reject(e instanceof Error ? e.message.split("\n")[0]! : String(e));
  }
  const place = module.default ?? module.place;
  if (typeof place !== "function") {
    return reject(
      `expected a default export (or an export 'place') that is a function, found ${
        place === undefined ? "none" : typeof place
      }`,
    );
  }
  return { name: spec, place: place as PlacementPolicy };
}
