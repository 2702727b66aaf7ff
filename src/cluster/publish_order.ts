/**
 * Publishes of one dataset from one runtime registered in the order the
 * runtime made them. A runtime that publishes ahead sends several publish
 * requests at once, each on its own connection; they may reach the name
 * server in another order, and a later version would then commit before an
 * earlier one, and subscribers would see them out of order. Each request
 * names the runtime's session, its own sequence number and the one it must
 * follow (the dataset's previous publish still unanswered at the runtime);
 * the name server holds it until that one has been handed to the registry,
 * for at most `maxWaitMs` (a request that never arrives, having failed on
 * the way, does not hold the next one longer).
 *
 * @module
 */

import { Fifo } from "../registry/_fifo.ts";

/** Where a publish stands in its runtime's order. */
export interface PublishTicket {
  /** The runtime's session: its name client's random id. */
  readonly session: string;
  /** The publish's own number, unique in the session. */
  readonly seq: number;
  /** The number of the publish of the same dataset it follows, if one is unanswered. */
  readonly after?: number;
}

/** Options of `PublishOrder`. */
export interface PublishOrderOptions {
  /** Longest hold of a publish for the one it follows, in ms (default 2000). */
  readonly maxWaitMs?: number;
  /** Publishes remembered as handed over (default 16 384): older ones are forgotten first. */
  readonly remember?: number;
  /** Publishes held at once (default 4096): past that, a publish goes without waiting. */
  readonly maxHeld?: number;
}

/**
 * The name server's side of publish ordering.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PublishOrder } from "./publish_order.ts";
 * const order = new PublishOrder();
 * const seen: number[] = [];
 * const second = order.turn({ session: "s", seq: 2, after: 1 }).then(() => seen.push(2));
 * await order.turn({ session: "s", seq: 1 });
 * seen.push(1);
 * order.handed({ session: "s", seq: 1 });
 * await second;
 * assert.deepEqual(seen, [1, 2]);
 * ```
 */
export class PublishOrder {
  readonly #maxWaitMs: number;
  readonly #remember: number;
  readonly #maxHeld: number;
  /** Publishes handed to the registry (the last `remember`). */
  readonly #handed = new Set<string>();
  /**
   * The same keys in a ring, oldest at `#at` once full: forgetting the
   * oldest costs the same however many are remembered (deleting a Set's
   * first entry again and again made each look past the holes left before
   * it: 3% of a name server under rank-block publishes).
   */
  readonly #ring: (string | undefined)[];
  #at = 0;
  /** Held publishes, by the key of the one each follows. */
  readonly #held = new Map<string, Hold[]>();
  /** Held publishes in the order of their deadlines (released ones are skipped). */
  readonly #deadlines = new Fifo<Hold>();
  /** The one timer, set for the earliest deadline while any publish is held. */
  #timer: ReturnType<typeof setTimeout> | undefined;
  #heldCount = 0;

  /** An order with no publish seen yet. */
  constructor(options: PublishOrderOptions = {}) {
    this.#maxWaitMs = options.maxWaitMs ?? 2000;
    this.#remember = options.remember ?? 16_384;
    this.#maxHeld = options.maxHeld ?? 4096;
    this.#ring = new Array(this.#remember);
  }

  /** Publishes held now. */
  get held(): number {
    return this.#heldCount;
  }

  /** Entries of the deadline queue, released ones not yet dropped included (for tests). */
  get queuedDeadlines(): number {
    return this.#deadlines.length;
  }

  /**
   * Resolves once the publish `ticket.after` names has been handed over,
   * at once when it names none or it was, and after `maxWaitMs` at most.
   */
  turn(ticket: PublishTicket): Promise<void> {
    if (ticket.after === undefined) return Promise.resolve();
    const key = keyOf(ticket.session, ticket.after);
    if (this.#handed.has(key) || this.#heldCount >= this.#maxHeld) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const hold: Hold = {
        key,
        deadline: performance.now() + this.#maxWaitMs,
        resolve,
        done: false,
      };
      const list = this.#held.get(key);
      if (list === undefined) this.#held.set(key, [hold]);
      else list.push(hold);
      this.#heldCount++;
      // Every hold waits as long: deadlines come in the order holds do.
      this.#deadlines.push(hold);
      // Released holds wait in the queue for the timer: at most as many as live ones allowed.
      if (this.#deadlines.length > 2 * this.#maxHeld) {
        for (const h of this.#deadlines.clear()) if (!h.done) this.#deadlines.push(h);
      }
      this.#timer ??= setTimeout(() => this.#expire(), this.#maxWaitMs);
    });
  }

  /** Lets go of the holds past their deadline; one timer for them all, set for the next. */
  #expire(): void {
    this.#timer = undefined;
    const now = performance.now();
    for (let h = this.#deadlines.peek(); h !== undefined; h = this.#deadlines.peek()) {
      if (h.done) {
        this.#deadlines.shift();
        continue;
      }
      if (h.deadline > now) {
        this.#timer = setTimeout(() => this.#expire(), h.deadline - now);
        return;
      }
      this.#deadlines.shift();
      const list = this.#held.get(h.key)!;
      list.splice(list.indexOf(h), 1);
      if (list.length === 0) this.#held.delete(h.key);
      this.#release(h);
    }
  }

  #release(h: Hold): void {
    h.done = true;
    this.#heldCount--;
    h.resolve();
  }

  /** Records that a publish was handed to the registry (or failed): the ones following it go. */
  handed(ticket: Pick<PublishTicket, "session" | "seq">): void {
    const key = keyOf(ticket.session, ticket.seq);
    if (!this.#handed.has(key)) {
      const oldest = this.#ring[this.#at];
      if (oldest !== undefined) this.#handed.delete(oldest);
      this.#ring[this.#at] = key;
      this.#at = (this.#at + 1) % this.#remember;
      this.#handed.add(key);
    }
    const waiting = this.#held.get(key);
    if (waiting === undefined) return;
    this.#held.delete(key);
    for (const h of waiting) this.#release(h);
    // Their deadlines are dropped as the timer meets them, or now when none is held.
    if (this.#heldCount === 0 && this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#deadlines.clear();
    }
  }
}

/** A publish held for the one it follows. */
interface Hold {
  /** The key of the publish it follows. */
  readonly key: string;
  /** When it goes anyway (`performance.now()` time). */
  readonly deadline: number;
  readonly resolve: () => void;
  /** Set once it went. */
  done: boolean;
}

function keyOf(session: string, seq: number): string {
  return `${session}:${seq}`;
}
