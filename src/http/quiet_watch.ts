/**
 * Noticing that a stream has gone quiet while someone waits on it, with one
 * timer per stream rather than one per wait: a step of 1 MiB arrives as 16
 * chunks, and a stream carries thousands of steps a second.
 *
 * @module
 */

/**
 * Watches waits on one stream: while a wait is under way (`waiting()` until
 * `done()`), `onQuiet` is called once it has lasted `quietMs`, then again
 * every `quietMs` it goes on. One interval checks every `tickMs` (default a
 * quarter of `quietMs`), so a call comes at most `tickMs` late. The interval
 * does not keep the process alive; `close()` stops it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { QuietWatch } from "./quiet_watch.ts";
 * let quiet = 0;
 * const watch = new QuietWatch(20, () => quiet++);
 * watch.waiting();
 * await new Promise((r) => setTimeout(r, 60));
 * watch.done();
 * const seen = quiet;
 * await new Promise((r) => setTimeout(r, 40));
 * watch.close();
 * assert.ok(seen >= 1);
 * assert.equal(quiet, seen); // nothing while no wait is under way
 * ```
 */
export class QuietWatch {
  /** When the wait under way began, or `onQuiet` last ran for it; 0 when none is. */
  #since = 0;
  readonly #timer: ReturnType<typeof setInterval>;

  /** Starts watching: `onQuiet` runs after `quietMs` of a wait, checked every `tickMs`. */
  constructor(quietMs: number, onQuiet: () => void, tickMs = quietMs / 4) {
    this.#timer = setInterval(() => {
      if (this.#since === 0 || performance.now() - this.#since < quietMs) return;
      this.#since = performance.now();
      onQuiet();
    }, Math.max(1, tickMs));
    Deno.unrefTimer(this.#timer);
  }

  /** A wait begins (or something was just sent during one: the quiet starts again). */
  waiting(): void {
    this.#since = performance.now();
  }

  /** The wait ended. */
  done(): void {
    this.#since = 0;
  }

  /** Stops the watch for good. */
  close(): void {
    clearInterval(this.#timer);
  }
}
