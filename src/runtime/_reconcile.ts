/**
 * Reconciling a restarted runtime's tiers with its name servers: copies
 * found at start that no record counts as held here are freed.
 *
 * @module
 */

import { parseCopyKey } from "../tiers/copy_keys.ts";
import type { CopyRef } from "../name_service/name_service.ts";
import type { RuntimeCore } from "./_core.ts";

/** Copies asked about per request when a restarted runtime reconciles its tiers, or checks replayed release notices. */
export const RECONCILE_BATCH = 1000;

/**
 * Frees the copies found on the node's tiers at start that the name
 * servers do not count as held by it. A copy written again since the start
 * is never touched (its bytes are a new store's). Returns the keys freed.
 */
export async function reconcile(core: RuntimeCore): Promise<string[]> {
  const keys: string[] = [];
  const refs: CopyRef[] = [];
  for (const key of core.tiers.foundAtOpen()) {
    const parsed = parseCopyKey(key);
    if (parsed === undefined) continue;
    keys.push(key);
    refs.push({ ...parsed, node: core.node });
  }
  const freed: string[] = [];
  for (let at = 0; at < refs.length; at += RECONCILE_BATCH) {
    const held = await core.names.heldCopies(refs.slice(at, at + RECONCILE_BATCH));
    for (let i = 0; i < held.length; i++) {
      const key = keys[at + i]!;
      if (!held[i] && await core.tiers.deleteIf(key, 0)) {
        // Staged copies beside it are never named by a record either.
        await core.staged.deleteBeside(key);
        freed.push(key);
      }
    }
  }
  return freed;
}
