/**
 * Opens the store of a declared tier: the one place that maps a kind to its
 * class and a declaration to its directory.
 *
 * @module
 */

import { InvalidConfigError } from "../errors.ts";
import { BackingTier } from "./backing_tier.ts";
import { FileTier } from "./file_tier.ts";
import { MemoryTier } from "./memory_tier.ts";
import { ShmTier } from "./shm_tier.ts";
import type { Tier } from "./tier.ts";
import { tierDirectory, type TierSpec } from "./tier_config.ts";

/** Where a node keeps its tiers' directories. */
export interface TierPlace {
  /** The data directory relative tier paths are under. */
  readonly dataDir: string;
  /** The node's name (the default shm directory includes it). */
  readonly node: string;
}

/**
 * Opens the store of each declared tier, in order. Two tiers over one
 * directory are a configuration error (each would clear or count the
 * other's files).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { openTiers } from "./open_tier.ts";
 * import { DEFAULT_TIERS } from "./tier_config.ts";
 * await Deno.mkdir("tmp", { recursive: true });
 * const dataDir = await Deno.makeTempDir({ dir: "tmp" });
 * const tiers = await openTiers(DEFAULT_TIERS, { dataDir, node: "n1" });
 * assert.deepEqual(tiers.map((t) => t.info().kind), ["memory", "file", "backing"]);
 * await Deno.remove(dataDir, { recursive: true });
 * ```
 */
export async function openTiers(specs: readonly TierSpec[], where: TierPlace): Promise<Tier[]> {
  const dirs = new Map<string, string>();
  for (const spec of specs) {
    if (spec.kind === "memory") continue;
    const dir = tierDirectory(spec, where).replace(/\/+$/, "");
    const other = dirs.get(dir);
    if (other !== undefined) {
      throw new InvalidConfigError(
        `Invalid tiers: '${other}' and '${spec.name}' share the directory '${dir}', expected one directory per tier`,
      );
    }
    dirs.set(dir, spec.name);
  }
  const out: Tier[] = [];
  for (const spec of specs) out.push(await openTier(spec, where));
  return out;
}

/** Opens the store of one declared tier. */
export async function openTier(spec: TierSpec, where: TierPlace): Promise<Tier> {
  const dir = tierDirectory(spec, where);
  switch (spec.kind) {
    case "memory":
      return new MemoryTier(spec.name, spec.capacity);
    case "shm":
      return await ShmTier.open(spec.name, dir, spec.capacity, { persistent: spec.persistent });
    case "file":
      return await FileTier.open(spec.name, dir, spec.capacity, { persistent: spec.persistent });
    case "backing":
      return await BackingTier.open(spec.name, dir, spec.capacity);
  }
}
