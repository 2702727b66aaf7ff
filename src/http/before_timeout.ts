/**
 * Waiting for something with a bound: a stream's next piece, a version,
 * an answer.
 *
 * @module
 */

/**
 * What `op` gives, or undefined when `ms` pass first (`op` goes on; its
 * later failure is handled, not thrown).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { beforeTimeout } from "./before_timeout.ts";
 * assert.equal(await beforeTimeout(Promise.resolve(7), 1000), 7);
 * assert.equal(await beforeTimeout(new Promise(() => {}), 10), undefined);
 * ```
 */
export async function beforeTimeout<T>(op: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      op,
      new Promise<undefined>((resolve) => timer = setTimeout(() => resolve(undefined), ms)),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
