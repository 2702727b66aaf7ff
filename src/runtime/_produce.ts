/**
 * The data plane's side of a runtime: the bytes of a copy it holds, laid
 * out as a peer asked.
 *
 * @module
 */

import { LostError } from "../errors.ts";
import type { FragmentLayout } from "../transform/layout.ts";
import { executePlan } from "../transform/execute.ts";
import type { WireCopy } from "../wire/codec.ts";
import type { Produced } from "../wire/server.ts";
import { sameLayout } from "../wire/cut.ts";
import { blobKeyOfCopy, copyKey } from "../tiers/copy_keys.ts";
import { checksum } from "./checksum.ts";
import type { RuntimeCore } from "./_core.ts";
import { corruptCopy, describeCopy, lost } from "./_copies.ts";
import { readNeeded } from "./_part_reads.ts";
import { metrics } from "../observe/mod.ts";

/**
 * The bytes of `copy` in layout `want` (`FragmentSource` of the wire
 * server). A copy sent as stored carries the checksum the name server
 * recorded, which the peer verifies; a reshaped copy is verified here first.
 */
export async function produce(
  core: RuntimeCore,
  copy: WireCopy,
  want: FragmentLayout,
): Promise<Produced> {
  const { node, scratch } = core;
  const blob = blobKeyOfCopy(copy.dataset, copy.fragment);
  if (blob !== undefined) return await produceBlob(core, blob, copy);
  const key = copyKey(copy.dataset, copy.version, copy.fragment, copy.bindings);
  const missing = () =>
    lost(
      new LostError(
        copy.dataset,
        copy.version,
        describeCopy(copy),
        `is not on node '${node}': it was held only in memory and is gone`,
        { node },
      ),
    );
  if (sameLayout(want, copy.layout)) {
    // Sent as stored: the peer checks it as it arrives.
    const bytes = await core.staged.read(key, copy.checksum);
    if (bytes === undefined) throw missing();
    if (bytes.byteLength !== copy.byteLength) {
      throw lost(corruptCopy(copy, node, `${bytes.byteLength} bytes, not ${copy.byteLength}`));
    }
    return { bytes, checksum: copy.checksum };
  }
  // Cut or reshaped here: checked first, reading only the pieces the cut
  // needs when it can; fetches of the same copy meanwhile share the read.
  const read = await readNeeded(core, key, copy.checksum, copy.layout, want);
  if (read === undefined) throw missing();
  const bytes = read.bytes;
  if (bytes.byteLength !== copy.byteLength) {
    throw lost(corruptCopy(copy, node, `${bytes.byteLength} bytes, not ${copy.byteLength}`));
  }
  if (read.bad !== undefined) throw lost(corruptCopy(copy, node, read.bad));
  // A scratch buffer, back in the pool once the server has written it.
  const out = scratch.take(want.byteLength);
  try {
    executePlan(core.plans.plan([copy.layout], want), [bytes], out);
    metrics.reshapedBytes.inc(out.byteLength);
    return { bytes: out, checksum: await checksum(out), release: () => scratch.give(out) };
  } catch (e) {
    scratch.give(out);
    throw e;
  }
}

/**
 * A service's blob, sent as stored with the CRC-32 its service recorded
 * (the peer verifies it as the bytes arrive).
 */
async function produceBlob(core: RuntimeCore, key: string, copy: WireCopy): Promise<Produced> {
  const found = await core.tiers.get(key);
  if (found === undefined) {
    throw new LostError(copy.dataset, 0, copy.fragment, `is not on node '${core.node}'`, {
      node: core.node,
    });
  }
  if (found.bytes.byteLength !== copy.byteLength) {
    throw corruptCopy(copy, core.node, `${found.bytes.byteLength} bytes, not ${copy.byteLength}`);
  }
  return { bytes: found.bytes, checksum: copy.checksum };
}
