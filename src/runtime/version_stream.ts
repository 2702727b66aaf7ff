/**
 * A consumer's stream of committed versions: the name server pushes each
 * commit with its copy list, and the stream fetches the next versions
 * while the application works on the current one.
 *
 * @module
 */

import { ClosedError, InvalidRequestError, LostError, WaitTimeoutError } from "../errors.ts";
import type { CommitNotice, CommitSubscription } from "../name_service/name_service.ts";
import type { AttachedBytes } from "./requests.ts";
import { beforeTimeout } from "../http/before_timeout.ts";

/** Options of a version stream. */
export interface VersionStreamOptions {
  /** Versions fetched ahead of the one the application holds (1 to 16, default 2). */
  readonly ahead?: number;
  /**
   * Most bytes of versions fetched ahead (default: no bound but `ahead`):
   * past it the stream waits for the application before it fetches more,
   * so it holds at most this plus one version. At least one version is
   * always fetched, whatever its size.
   */
  readonly aheadBytes?: number;
  /**
   * Bytes fetched ahead that this stream shares with others (a runtime's
   * step streams for readers over HTTP): past its limit no stream fetches
   * more than the version it is on, so together they hold at most the
   * limit plus a version each.
   */
  readonly aheadBudget?: AheadBudget;
  /** The dataset, named by errors. */
  readonly dataset?: string;
  /**
   * Asked when a wait times out: why no version came, when the stream's
   * owner can tell (the dataset does not exist), added to the error.
   */
  readonly whyNothing?: () => Promise<string | undefined>;
}

/**
 * Bytes of versions fetched ahead by several streams together, against a
 * limit (`VersionStreamOptions.aheadBudget`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { AheadBudget } from "./version_stream.ts";
 * const budget = new AheadBudget(1 << 30);
 * assert.equal(budget.used, 0);
 * assert.equal(budget.full, false);
 * ```
 */
export class AheadBudget {
  /** The most bytes the streams fetch ahead together (each still fetches the version it is on). */
  readonly limit: number;
  /** Bytes the streams hold ahead now. */
  used = 0;

  /** A budget of `limit` bytes (at least 1). */
  constructor(limit: number) {
    if (!(limit >= 1)) {
      throw new RangeError(`Invalid ahead budget: expected at least 1 byte, found ${limit}`);
    }
    this.limit = limit;
  }

  /** Whether the streams hold their limit or more. */
  get full(): boolean {
    return this.used >= this.limit;
  }
}

/** A version the stream hands over, and how many it skipped before it. */
export interface StreamedVersion extends AttachedBytes {
  /**
   * Versions skipped just before this one: dropped from a full queue
   * (policy `drop-oldest`), or retired before they were fetched.
   */
  readonly dropped: number;
}

/** A version fetched ahead, assembled when the application takes it. */
export interface FetchedVersion {
  /** Its bytes in `into` (exactly the region's size) or a new buffer; called once. */
  finish(into?: Uint8Array): Uint8Array;
  /** Gives what the fetch holds back unused; called once. */
  release(): void;
}

/** Fetches a notice's region, to be assembled when taken. */
export type FetchNotice = (notice: CommitNotice) => Promise<FetchedVersion>;

/**
 * A fetched version, or one lost before it could be fetched (`fetched`
 * undefined): kept in its place so versions come out in order.
 */
interface Slot {
  readonly notice: CommitNotice;
  readonly fetched: FetchedVersion | undefined;
}

/** How long one wait for a notice lasts before it is asked again. */
const NOTICE_WAIT_MS = 10_000;

/**
 * The versions of a subscription, fetched ahead: at most `ahead` fetches
 * in flight or waiting to be taken, each holding its parts (scratch
 * buffers of the runtime) until the application takes it, when they are
 * assembled straight into the application's buffer; memory stays at
 * `ahead` versions' parts whatever the producer does.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { VersionStream } from "./version_stream.ts";
 * let v = 0;
 * const sub = {
 *   next: () => Promise.resolve({ version: ++v, layout: { byteLength: 1, slots: [] }, sources: [], dropped: 0 }),
 *   close() {},
 * };
 * const stream = new VersionStream(sub, (n) =>
 *   Promise.resolve({
 *     finish: (into = new Uint8Array(1)) => into.fill(n.version),
 *     release() {},
 *   }));
 * const into = new Uint8Array(1);
 * assert.equal((await stream.next({ into, timeoutMs: 1000 })).version, 1);
 * assert.equal(into[0], 1);
 * assert.equal((await stream.next({ timeoutMs: 1000 })).bytes[0], 2);
 * stream.close();
 * ```
 */
export class VersionStream {
  readonly #sub: CommitSubscription;
  readonly #fetch: FetchNotice;
  readonly #ahead: number;
  readonly #aheadBytes: number;
  readonly #budget: AheadBudget | undefined;
  /** Bytes of the versions whose notices came and that the application has not taken. */
  #bytesAhead = 0;
  /** Slots whose notice has not come yet. */
  #awaiting = 0;
  readonly #dataset: string;
  readonly #whyNothing: (() => Promise<string | undefined>) | undefined;
  /** The last version handed over. */
  #last = 0;
  readonly #slots: Promise<Slot>[] = [];
  #notices: Promise<unknown> = Promise.resolve();
  #closed = false;

  /** Streams the versions `sub` pushes, fetching each with `fetch`. */
  constructor(sub: CommitSubscription, fetch: FetchNotice, options: VersionStreamOptions = {}) {
    const ahead = options.ahead ?? 2;
    if (!Number.isSafeInteger(ahead) || ahead < 1 || ahead > 16) {
      throw new InvalidRequestError(
        `Invalid stream option 'ahead': expected an integer from 1 to 16, found ${ahead}`,
      );
    }
    this.#sub = sub;
    this.#fetch = fetch;
    this.#ahead = ahead;
    const aheadBytes = options.aheadBytes ?? Infinity;
    if (!(aheadBytes >= 1)) {
      throw new InvalidRequestError(
        `Invalid stream option 'aheadBytes': expected at least 1 byte, found ${aheadBytes}`,
      );
    }
    this.#aheadBytes = aheadBytes;
    this.#budget = options.aheadBudget;
    this.#dataset = options.dataset ?? "the dataset";
    this.#whyNothing = options.whyNothing;
  }

  /**
   * Resolves once the name server holds the subscription: a producer told
   * to start after it loses no version's small copy to a fetch (their bytes
   * come with the notices). Rejects when the subscription failed first.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { VersionStream } from "./version_stream.ts";
   * const sub = { next: () => Promise.resolve(undefined), close() {}, ready: Promise.resolve() };
   * const stream = new VersionStream(sub, () => Promise.reject(new Error("no fetch")));
   * assert.equal(await stream.ready, undefined);
   * stream.close();
   * ```
   */
  get ready(): Promise<void> {
    return this.#sub.ready ?? Promise.resolve();
  }

  /**
   * The next committed version, in the region's layout: copied into `into`
   * when given (then the stream's buffer is reused), else in a buffer the
   * caller keeps. Waits up to `timeoutMs` (`WaitTimeoutError`; the version
   * still comes with the next call).
   */
  async next(options: { readonly into?: Uint8Array; readonly timeoutMs: number }): Promise<
    StreamedVersion
  > {
    if (this.#closed) throw new ClosedError("stream", "its consumer closed it");
    let skipped = 0;
    let slot: Slot | undefined;
    for (;;) {
      this.#fill();
      slot = await beforeTimeout(this.#slots[0]!, options.timeoutMs);
      if (slot === undefined) {
        const e = new WaitTimeoutError(this.#dataset, this.#last + 1, options.timeoutMs);
        const why = await this.#whyNothing?.().catch(() => undefined);
        if (why === undefined) throw e;
        throw new WaitTimeoutError(this.#dataset, this.#last + 1, options.timeoutMs, {
          message: `${e.message}: ${why}`,
        });
      }
      this.#slots.shift();
      this.#count(-slot.notice.layout.byteLength);
      if (slot.fetched !== undefined) break;
      // Retired before it was fetched: the consumer fell behind retention.
      skipped += 1 + slot.notice.dropped;
      this.#last = slot.notice.version;
    }
    const { notice } = slot;
    const fetched = slot.fetched!;
    const into = options.into;
    if (into !== undefined && into.byteLength !== notice.layout.byteLength) {
      fetched.release();
      throw new InvalidRequestError(
        `Cannot take version ${notice.version} into a buffer of ${into.byteLength} bytes: expected ${notice.layout.byteLength}`,
      );
    }
    const bytes = fetched.finish(into);
    this.#fill();
    this.#last = notice.version;
    return {
      version: notice.version,
      layout: notice.layout,
      bytes,
      dropped: notice.dropped + skipped,
    };
  }

  /** Ends the stream and its subscription. */
  close(): void {
    if (this.#closed) return;
    this.#count(-this.#bytesAhead);
    this.#closed = true;
    this.#sub.close();
    for (const s of this.#slots) s.then((slot) => slot.fetched?.release(), () => {});
    this.#slots.length = 0;
  }

  /**
   * Starts fetches until `ahead` are under way or waiting, or the bytes of
   * those whose notices came reach `aheadBytes`: past the first slot, a
   * new one waits until every notice before it has come, so at most one
   * version's size is unknown.
   */
  #fill(): void {
    const bounded = this.#aheadBytes !== Infinity || this.#budget !== undefined;
    while (
      !this.#closed && this.#slots.length < this.#ahead &&
      (this.#slots.length === 0 || !bounded ||
        this.#awaiting === 0 && this.#bytesAhead < this.#aheadBytes && !this.#budget?.full)
    ) {
      const slot = this.#take();
      slot.catch(() => {});
      this.#slots.push(slot);
    }
  }

  /**
   * The next notice (taken in order), fetched; a version lost before it
   * was fetched keeps its place, without parts.
   */
  async #take(): Promise<Slot> {
    this.#awaiting++;
    const turn = this.#notices.then(() => this.#notice());
    this.#notices = turn.catch(() => {});
    let notice: CommitNotice;
    try {
      notice = await turn;
    } finally {
      this.#awaiting--;
    }
    this.#count(notice.layout.byteLength);
    // Its size is known now: room, perhaps, for the next fetch.
    this.#fill();
    try {
      return { notice, fetched: await this.#fetch(notice) };
    } catch (e) {
      if (!(e instanceof LostError)) throw e;
      return { notice, fetched: undefined };
    }
  }

  /** Adds `bytes` (negative: takes them) to those held ahead, and to the shared budget's; none once closed. */
  #count(bytes: number): void {
    if (this.#closed) return;
    this.#bytesAhead += bytes;
    if (this.#budget !== undefined) this.#budget.used += bytes;
  }

  async #notice(): Promise<CommitNotice> {
    for (;;) {
      if (this.#closed) throw new ClosedError("stream", "its consumer closed it");
      const notice = await this.#sub.next(NOTICE_WAIT_MS);
      if (notice !== undefined) return notice;
    }
  }
}
