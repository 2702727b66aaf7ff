/**
 * Bounded concurrency: the calls of one invocation or pipeline run, the
 * copies of one flush.
 *
 * @module
 */

/**
 * Runs `fn` on every item with at most `limit` under way; results in item
 * order. After a failure no further item starts, and the first error is
 * thrown once the calls under way have finished: nothing keeps running (or
 * publishing) behind the caller's back.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mapLimit } from "./map_limit.ts";
 * let running = 0;
 * let most = 0;
 * const out = await mapLimit([1, 2, 3, 4], 2, async (x) => {
 *   most = Math.max(most, ++running);
 *   await new Promise((r) => setTimeout(r, 1));
 *   running--;
 *   return x * 10;
 * });
 * assert.deepEqual([out, most], [[10, 20, 30, 40], 2]);
 * const done: number[] = [];
 * await assert.rejects(mapLimit([1, 2, 3, 4], 2, async (x) => {
 *   if (x === 1) throw new Error("one");
 *   await new Promise((r) => setTimeout(r, 5));
 *   done.push(x);
 * }), /one/);
 * assert.deepEqual(done, [2]);
 * ```
 */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  if (items.length === 1) return [await fn(items[0]!)];
  const out = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length && !failed) {
      const i = next++;
      try {
        out[i] = await fn(items[i]!);
      } catch (e) {
        failed = true;
        throw e;
      }
    }
  });
  const settled = await Promise.allSettled(lanes);
  const failure = settled.find((s) => s.status === "rejected");
  if (failure !== undefined) throw failure.reason;
  return out;
}
