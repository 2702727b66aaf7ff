/**
 * Keeps a node's lease alive: registers it, then renews it a few times per
 * lease period, for as long as the runtime runs.
 *
 * @module
 */

/** Options of a `LeaseKeeper`. */
export interface LeaseKeeperOptions {
  /** Lease length in ms; renewals happen every third of it. */
  readonly leaseMs: number;
  /** Registers the node (first, and again whenever a renewal fails). */
  readonly register: () => Promise<void>;
  /** Renews the lease. */
  readonly renew: () => Promise<void>;
  /** Told about failed renewals (the keeper keeps trying). */
  readonly onError?: (e: unknown) => void;
}

/**
 * Registers a node and renews its lease until stopped. A renewal that
 * fails (the name server away, the lease lapsed) is followed by a new
 * registration at the next tick; while none succeeds the lease lapses and
 * the node shows as down.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LeaseKeeper } from "./lease.ts";
 * let registered = 0;
 * const keeper = new LeaseKeeper({
 *   leaseMs: 60_000,
 *   register: () => Promise.resolve(void registered++),
 *   renew: () => Promise.resolve(),
 * });
 * await keeper.start();
 * assert.equal(registered, 1);
 * keeper.stop();
 * ```
 */
export class LeaseKeeper {
  readonly #options: LeaseKeeperOptions;
  #timer: ReturnType<typeof setInterval> | undefined;
  #lost = false;
  #busy = false;

  /** Creates a keeper; nothing happens until `start()`. */
  constructor(options: LeaseKeeperOptions) {
    this.#options = options;
  }

  /** Registers the node, then renews it every `leaseMs / 3`. */
  async start(): Promise<void> {
    await this.#options.register();
    this.#timer = setInterval(() => this.#tick(), Math.max(10, this.#options.leaseMs / 3));
  }

  /** Stops renewing: the lease lapses after at most `leaseMs`. */
  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Stops renewing, as every long-lived object closes: `close()` and `await using`. */
  close(): Promise<void> {
    this.stop();
    return Promise.resolve();
  }

  /** Stops renewing (`await using`). */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #tick(): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    try {
      if (this.#lost) await this.#options.register();
      else await this.#options.renew();
      this.#lost = false;
    } catch (e) {
      this.#lost = true;
      this.#options.onError?.(e);
    } finally {
      this.#busy = false;
    }
  }
}
