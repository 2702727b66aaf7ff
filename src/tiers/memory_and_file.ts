/**
 * The smallest useful tier set: a memory tier and a file tier, placed
 * fastest-fit. Programs that embed a runtime (benchmarks, tests) open it
 * without a tiers file.
 *
 * @module
 */

import type { NamedPolicy } from "./policy.ts";
import { KIND_DEFAULTS } from "./tier_config.ts";
import { TierSet } from "./tier_set.ts";

/** Capacities and place of `openMemoryAndFile()`. */
export interface MemoryAndFileOptions {
  /** The node the tiers belong to. */
  readonly node: string;
  /** Directory under which the file tier keeps its copies (`<dataDir>/file`). */
  readonly dataDir: string;
  /** Memory tier capacity in bytes. */
  readonly memory: number;
  /** File tier capacity in bytes. */
  readonly file: number;
  /** The placement policy (default fastest-fit). */
  readonly policy?: NamedPolicy;
}

/**
 * Opens a tier set of one memory tier (`memory`) and one file tier (`file`),
 * placed by `policy` (default fastest-fit).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { openMemoryAndFile } from "./memory_and_file.ts";
 * await Deno.mkdir("tmp", { recursive: true });
 * const dir = await Deno.makeTempDir({ dir: "tmp" });
 * const tiers = await openMemoryAndFile({ node: "n1", dataDir: dir, memory: 1024, file: 4096 });
 * assert.deepEqual(tiers.specs.map((s) => [s.name, s.capacity]), [["memory", 1024], ["file", 4096]]);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function openMemoryAndFile(options: MemoryAndFileOptions): Promise<TierSet> {
  return TierSet.open([
    { name: "memory", kind: "memory", capacity: options.memory, ...KIND_DEFAULTS.memory },
    { name: "file", kind: "file", capacity: options.file, ...KIND_DEFAULTS.file },
  ], {
    node: options.node,
    dataDir: options.dataDir,
    ...(options.policy === undefined ? {} : { policy: options.policy }),
  });
}
