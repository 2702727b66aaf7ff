/**
 * Flushing a version: every copy of it this node holds written to a
 * persistent tier as well, so that it survives the runtime.
 *
 * @module
 */

import { InvalidRequestError, NotFoundError } from "../errors.ts";
import type { TierSpec } from "../tiers/tier_config.ts";
import { parseCopyKey, parseStagedKey } from "../tiers/copy_keys.ts";
import type { RuntimeCore } from "./_core.ts";
import { placedFragment } from "./_copies.ts";
import type { FlushResult } from "./requests.ts";
import { mapLimit } from "./map_limit.ts";

/** Copies a flush writes at once. */
export const FLUSH_CONCURRENCY = 4;

/**
 * Writes every copy of a version this node holds to the backing tier (or
 * `tier`, which must be persistent). `NotFoundError` when the node holds
 * no copy of it, `NodeFullError` when the tier cannot make room.
 */
export async function flushVersion(
  core: RuntimeCore,
  dataset: string,
  version: number,
  options: { readonly tier?: string },
): Promise<FlushResult> {
  const { node, tiers } = core;
  const settings = await core.names.datasetSettings(dataset);
  const target = flushTarget(tiers.specs, node, options.tier);
  const keys = tiers.keys(`${dataset}/${version}/`).filter((k) => !parseStagedKey(k));
  if (keys.length === 0) {
    throw new NotFoundError(`Version ${version} of '${dataset}' has no copies on node '${node}'`);
  }
  let written = 0;
  let bytes = 0;
  // Several copies at once, so the disk has several writes and flushes to
  // take in turn rather than one.
  await mapLimit(keys, FLUSH_CONCURRENCY, async (key) => {
    const copy = parseCopyKey(key);
    if (copy === undefined) return;
    const size = tiers.sizeOf(key) ?? 0;
    const placed = placedFragment({ ...copy, bytes: { byteLength: size } }, settings);
    // A staged copy goes first: after a crash, the copy its record names is there.
    for (const staged of core.staged.beside(key)) {
      await tiers.copyTo(staged, target.name, placed);
    }
    if (await tiers.copyTo(key, target.name, placed)) written++;
    bytes += size;
  });
  return { dataset, version, tier: target.name, copies: keys.length, written, bytes };
}

/** The tier a flush writes to: `tier`, else the backing tier; persistent either way. */
function flushTarget(specs: readonly TierSpec[], node: string, tier: string | undefined): TierSpec {
  const target = tier === undefined
    ? specs.find((s) => s.kind === "backing")
    : specs.find((s) => s.name === tier);
  if (target === undefined) {
    throw new InvalidRequestError(
      tier === undefined
        ? `Cannot flush on node '${node}': it has no backing tier (it has ${
          specs.map((s) => s.name).join(", ")
        })`
        : `Cannot flush to tier '${tier}': node '${node}' has no such tier (it has ${
          specs.map((s) => s.name).join(", ")
        })`,
    );
  }
  if (!target.persistent) {
    throw new InvalidRequestError(
      `Cannot flush to tier '${target.name}': it does not keep copies across restarts`,
    );
  }
  return target;
}
