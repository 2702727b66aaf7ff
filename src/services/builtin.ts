/**
 * The services `strata serve` can run, by name: `hepnos`, `flamestore`,
 * `mobject` and the example `notes`.
 *
 * @module
 */

import type { TierSet } from "../tiers/tier_set.ts";
import type { ServicesConfig } from "./config.ts";
import { flamestore } from "./flamestore/service.ts";
import { hepnos } from "./hepnos/service.ts";
import { mobject } from "./mobject/service.ts";
import { ServiceHost, type ServiceRouting } from "./host.ts";
import type { MetaKv } from "./meta_kv.ts";
import { notes } from "./notes/service.ts";
import type { ServiceDefinition } from "./service.ts";

/**
 * The built-in service definitions.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BUILTIN_SERVICES } from "./builtin.ts";
 * assert.deepEqual(BUILTIN_SERVICES.map((s) => s.name), ["hepnos", "flamestore", "mobject", "notes"]);
 * ```
 */
export const BUILTIN_SERVICES: readonly ServiceDefinition[] = [hepnos, flamestore, mobject, notes];

/**
 * Opens the services config enables, over the service metadata (the
 * registry's KV here, or the name server's) and the node's tiers;
 * `routing` reaches the other runtimes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { KIND_DEFAULTS, MemoryTier, TierSet } from "../tiers/mod.ts";
 * import { openServices } from "./builtin.ts";
 * const spec = { name: "mem", kind: "memory", capacity: 1 << 20, ...KIND_DEFAULTS.memory } as const;
 * const tiers = new TierSet({ node: "n", tiers: [{ tier: new MemoryTier("mem", 1 << 20), spec }] });
 * const kv = await Deno.openKv(":memory:");
 * const host = await openServices(kv, tiers, {});
 * assert.equal(host.services.size, 0);
 * kv.close();
 * ```
 */
export function openServices(
  kv: Deno.Kv | MetaKv,
  tiers: TierSet,
  config: ServicesConfig,
  routing?: ServiceRouting,
): Promise<ServiceHost> {
  return ServiceHost.open({
    kv,
    tiers,
    config,
    definitions: BUILTIN_SERVICES,
    ...(routing === undefined ? {} : { routing }),
  });
}
