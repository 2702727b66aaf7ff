/**
 * A connection whose every read and write has a deadline: a peer that stops
 * sending or reading loses its connection instead of holding it forever.
 *
 * @module
 */

import { UnavailableError } from "../errors.ts";
import type { ByteStream } from "./stream.ts";

/**
 * A deadline of a connection passed (HTTP 503, `unavailable`): the peer
 * sent or read nothing in time, and the connection is closed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DeadlineError } from "./deadline.ts";
 * assert.equal(new DeadlineError("No byte from node 'a' within 10 ms").code, "unavailable");
 * ```
 */
export class DeadlineError extends UnavailableError {}

/** Which deadline of a connection applies to the read or write under way. */
type DeadlineKind = "idle" | "frame" | "stall" | "write";

/** The part of `Deno.Conn` a `Deadlines` stream wraps. */
export interface Closable extends ByteStream {
  /** Closes the connection: pending reads and writes fail. */
  close(): void;
}

/**
 * Wraps a connection so that a read waits at most `expect()`'s idle time
 * for the first byte of the next frame and its frame time for the rest, and
 * a write makes progress within `writeMs`. When a deadline passes, the
 * connection is closed and the read or write fails with `DeadlineError`
 * naming the deadline.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Deadlines } from "./deadline.ts";
 * // A peer that never sends: closing the connection fails the read under way.
 * let fail = (_: Error) => {};
 * const silent = {
 *   read: () => new Promise<number | null>((_, reject) => fail = reject),
 *   write: (p: Uint8Array) => Promise.resolve(p.length),
 *   close: () => fail(new Error("closed")),
 * };
 * const stream = new Deadlines(silent, { writeMs: 1000, what: "node 'a'" });
 * stream.expect(10, 1000);
 * await assert.rejects(stream.read(new Uint8Array(4)), /No byte from node 'a' within 10 ms/);
 * ```
 */
export class Deadlines implements ByteStream {
  readonly #conn: Closable;
  readonly #writeMs: number;
  readonly #what: string;
  #idleMs = Infinity;
  #frameMs = Infinity;
  #stallMs = Infinity;
  /** When the frame under way must be in (after its first byte), or undefined before it. */
  #until: number | undefined;
  /** When the read or write under way fails (Infinity: none is). */
  #deadline = Infinity;
  /** Which deadline that is, for the message. */
  #kind: DeadlineKind = "idle";
  /** Why the connection was closed, once a deadline passed. */
  #expired: string | undefined;
  /**
   * One watchdog per connection, not a timer per read: a payload arrives in
   * hundreds of reads, and a timer each would cost about 2 µs per read.
   */
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** When the watchdog fires. */
  #timerAt = Infinity;

  /** Wraps `conn`; `what` names the peer in messages. */
  constructor(conn: Closable, options: { readonly writeMs: number; readonly what: string }) {
    this.#conn = conn;
    this.#writeMs = options.writeMs;
    this.#what = options.what;
  }

  /**
   * Deadlines of the next message: its first byte within `idleMs`, all of it
   * within `frameMs` of that byte, and each later read within `stallMs`
   * (`Infinity`: none).
   */
  expect(idleMs: number, frameMs: number, stallMs = Infinity): void {
    this.#idleMs = idleMs;
    this.#frameMs = frameMs;
    this.#stallMs = stallMs;
    this.#until = undefined;
  }

  async read(p: Uint8Array): Promise<number | null> {
    const now = Date.now();
    const waiting = this.#until === undefined;
    if (waiting) this.#arm(now + this.#idleMs, "idle");
    else if (this.#until! - now <= this.#stallMs) this.#arm(this.#until!, "frame");
    else this.#arm(now + this.#stallMs, "stall");
    let n: number | null;
    try {
      n = await this.#conn.read(p);
    } catch (e) {
      throw this.#failure(e);
    } finally {
      this.#deadline = Infinity;
    }
    if (waiting && n !== null && n > 0) this.#until = Date.now() + this.#frameMs;
    return n;
  }

  async write(p: Uint8Array): Promise<number> {
    this.#arm(Date.now() + this.#writeMs, "write");
    try {
      return await this.#conn.write(p);
    } catch (e) {
      throw this.#failure(e);
    } finally {
      this.#deadline = Infinity;
    }
  }

  /** Closes the connection (again: harmless) and stops the watchdog. */
  close(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Infinity;
    try {
      this.#conn.close();
    } catch {
      // Closed already.
    }
  }

  #arm(at: number, kind: DeadlineKind): void {
    if (this.#expired !== undefined) throw new DeadlineError(this.#expired);
    this.#deadline = at;
    this.#kind = kind;
    // The watchdog fires at the earliest deadline; one that fires early looks again.
    if (at < this.#timerAt) {
      clearTimeout(this.#timer);
      this.#timerAt = at;
      this.#timer = setTimeout(this.#check, Math.max(0, at - Date.now()));
    }
  }

  readonly #check = (): void => {
    this.#timer = undefined;
    this.#timerAt = Infinity;
    if (this.#deadline === Infinity) return;
    const left = this.#deadline - Date.now();
    if (left > 0) {
      this.#timerAt = this.#deadline;
      this.#timer = setTimeout(this.#check, left);
      return;
    }
    this.#expired = this.#message();
    this.close();
  };

  #message(): string {
    switch (this.#kind) {
      case "idle":
        return `No byte from ${this.#what} within ${this.#idleMs} ms`;
      case "frame":
        return `A frame from ${this.#what} took longer than ${this.#frameMs} ms`;
      case "stall":
        return `${this.#what} sent nothing for ${this.#stallMs} ms`;
      case "write":
        return `${this.#what} read nothing for ${this.#writeMs} ms`;
    }
  }

  /** The error of a read or write that failed: the deadline's, when one closed the connection. */
  #failure(e: unknown): unknown {
    return this.#expired === undefined ? e : new DeadlineError(this.#expired, { cause: e });
  }
}
