/**
 * Subscriptions to a dataset's commits: each commit queued for each
 * subscriber (bounded, with its overflow policy), looked up when taken.
 *
 * @module
 */

import { LostError } from "../errors.ts";
import type { CommitSubscription, SubscribeQuery } from "../name_service/name_service.ts";
import type { Lookup } from "./_lookup.ts";
import { firstCommitted, type RegistryState } from "./_state.ts";
import { NoticeQueue } from "./notice_queue.ts";
import { checkBindings, checkLabel, checkName, checkVersion } from "./validate.ts";

/**
 * Subscribes to the commits of `query.dataset` in `state`; see
 * `Registry.subscribe`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RegistryState } from "./_state.ts";
 * import { Lookup } from "./_lookup.ts";
 * import { subscribeCommits } from "./_subscribe.ts";
 * using state = new RegistryState(await Deno.openKv(":memory:"));
 * const sub = subscribeCommits(state, new Lookup(state), { dataset: "t", fragment: "dataset", bindings: {} });
 * assert.equal(await sub.next(5), undefined);
 * sub.close();
 * ```
 */
export function subscribeCommits(
  state: RegistryState,
  lookup: Lookup,
  query: SubscribeQuery,
): CommitSubscription {
  state.checkOpen();
  checkName("dataset", query.dataset);
  checkLabel("fragment name", query.fragment);
  checkBindings(`subscription to fragment '${query.fragment}'`, query.bindings);
  const from = query.from ?? 1;
  checkVersion(from);
  const queue = new NoticeQueue(query.dataset, query);
  const d = state.datasets.get(query.dataset);
  // Versions committed already, oldest first, then each new commit.
  for (let v = d === undefined ? 0 : firstCommitted(d, from); v > 0;) {
    queue.push(v);
    v = firstCommitted(d!, v + 1);
  }
  const off = state.onCommit((dataset, version) => {
    if (dataset === query.dataset && version >= from) queue.push(version);
  });
  return {
    async next(timeoutMs) {
      for (;;) {
        const taken = await queue.next(timeoutMs);
        if (taken === undefined) return undefined;
        try {
          const found = lookup.find({ ...query, version: taken.value });
          return { ...found, dropped: taken.dropped };
        } catch (e) {
          // Retired before the consumer took it: counted with the next one.
          if (!(e instanceof LostError)) throw e;
          queue.skipped();
          for (let i = 0; i < taken.dropped; i++) queue.skipped();
        }
      }
    },
    close() {
      off();
      queue.close();
    },
  };
}
