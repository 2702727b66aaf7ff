/**
 * The data plane's client side: fetches bytes of copies held by other
 * runtimes over pooled TCP connections, and verifies their checksums.
 *
 * @module
 */

import { crc32 } from "node:zlib";
import {
  ChecksumError,
  errorFromCode,
  InvalidRequestError,
  StrataError,
  UnavailableError,
  WireProtocolError,
} from "../errors.ts";
import type { FragmentLayout } from "../transform/layout.ts";
import { copyKey } from "../tiers/copy_keys.ts";
import { PROTOCOL, type WireCopy } from "./codec.ts";
import { FrameReader, writeFrame } from "./stream.ts";
import { DeadlineError, Deadlines } from "./deadline.ts";
import { log, metrics } from "../observe/mod.ts";

/** Where a peer runtime's data plane listens. */
export interface Peer {
  /** Node name (for messages). */
  readonly node: string;
  /** Host. */
  readonly hostname: string;
  /** Port. */
  readonly port: number;
}

/** Options of a `WireClient`. */
export interface WireClientOptions {
  /** This node's name, sent in `hello`. */
  readonly node: string;
  /** Cluster token, when the peers require one. */
  readonly token?: string;
  /** Connections kept open to one peer, each carrying one request at a time (default 4). */
  readonly connectionsPerPeer?: number;
  /** Requests that may wait for a connection to one peer; more are refused with `unavailable` (default 1024). */
  readonly maxQueued?: number;
  /** Time a request may wait for a connection to its peer (default 30 s). */
  readonly queueTimeoutMs?: number;
  /** Time to connect to a peer and exchange `hello` (default 10 s). */
  readonly connectTimeoutMs?: number;
  /**
   * Time a request may wait for the first byte of its answer, and then for
   * each further piece of it (default 60 s): a peer that stops sending fails
   * the request with `unavailable` instead of holding it.
   */
  readonly answerTimeoutMs?: number;
  /** Time a write may make no progress (the peer reads nothing) (default 30 s). */
  readonly writeTimeoutMs?: number;
  /**
   * Time a pooled connection may sit idle before the client closes it
   * (default 60 s, within the servers' 120 s): a peer that went away (a
   * runtime restarted on another port) keeps no connection or pool here.
   */
  readonly idleMs?: number;
}

/** Options of one `WireClient.fetch()`. */
export interface FetchOptions {
  /**
   * Receive the payload into this buffer (exactly `want.byteLength` bytes)
   * instead of a new one. When the fetch fails after the payload started to
   * arrive, it holds part of the bytes and must not be used.
   */
  readonly into?: Uint8Array;
  /**
   * Called as the payload arrives, with the number of its first bytes that
   * are in the buffer now (checksummed, not yet verified: the fetch may still
   * fail), so a reshape can start before the last byte is there. A throw
   * fails the fetch.
   */
  readonly onData?: (received: number) => void;
}

interface Waiter {
  resolve(conn: Connection | undefined): void;
}

/** A waiter's answer when its deadline passed first. */
const TIMED_OUT = Symbol("timed out");

interface Pool {
  readonly idle: Connection[];
  readonly waiters: Waiter[];
  open: number;
}

/**
 * A pool of connections to peer runtimes. A request takes an idle
 * connection, opens one while the peer has fewer than `connectionsPerPeer`,
 * or waits in a queue of at most `maxQueued` requests per peer.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { crc32 } from "node:zlib";
 * import { WireClient } from "./client.ts";
 * import { WireServer } from "./server.ts";
 * const stored = new Uint8Array([1, 2, 3, 4]);
 * const layout = { byteLength: 4, slots: [] };
 * await using server = WireServer.listen({
 *   port: 0, node: "a",
 *   source: { produce: () => Promise.resolve({ bytes: stored, checksum: crc32(stored) }) },
 * });
 * using client = new WireClient({ node: "b" });
 * const copy = {
 *   dataset: "d", version: 1, fragment: "dataset", bindings: {}, layout,
 *   byteLength: 4, checksum: crc32(stored),
 * };
 * const got = await client.fetch({ node: "a", hostname: "127.0.0.1", port: server.port }, copy, layout);
 * assert.deepEqual(got, stored);
 * ```
 */
export class WireClient {
  readonly #options: WireClientOptions;
  readonly #pools = new Map<string, Pool>();
  #closed = false;
  #nextId = 1;
  /** Closes connections idle past `idleMs`; runs while some are idle. */
  #sweeper: ReturnType<typeof setInterval> | undefined;

  /** Creates a client with no connection open yet. */
  constructor(options: WireClientOptions) {
    this.#options = options;
  }

  /**
   * The bytes of `copy` laid out as `want`, fetched from `peer`. The payload
   * is checked against its CRC-32 as it arrives (a mismatch is a
   * `ChecksumError`, never data). Failures at the peer arrive with their
   * own code (`gone`, `checksum_mismatch`, ...); a peer that does not answer
   * is `UnavailableError`. With `into` (exactly `want.byteLength` bytes,
   * else an `InvalidRequestError` before anything is sent) the payload is
   * received there and `into` is returned.
   */
  async fetch(
    peer: Peer,
    copy: WireCopy,
    want: FragmentLayout,
    options: FetchOptions = {},
  ): Promise<Uint8Array> {
    const into = options.into;
    if (into !== undefined && into.byteLength !== want.byteLength) {
      throw new InvalidRequestError(
        `Cannot fetch '${
          copyKey(copy.dataset, copy.version, copy.fragment, copy.bindings)
        }' into a buffer of ${into.byteLength} bytes: expected ${want.byteLength}`,
      );
    }
    for (let attempt = 0;; attempt++) {
      const conn = await this.#acquire(peer);
      try {
        return await conn.request(this.#nextId++ >>> 0, copy, want, options);
      } catch (e) {
        // No byte of the answer came: the peer closed a connection it had
        // kept (it restarted, or closed it as idle), and so did it, likely,
        // with the others kept idle. Once more, on a new connection: nothing
        // of the request was answered, so nothing is received twice.
        if (attempt > 0 || !conn.unanswered) throw e;
        this.#dropIdle(peer);
      } finally {
        // A failure answered in full leaves the stream in step: the connection stays.
        this.#release(peer, conn, !conn.broken);
      }
    }
  }

  /** Closes the idle connections to `peer`. */
  #dropIdle(peer: Peer): void {
    const pool = this.#pools.get(`${peer.hostname}:${peer.port}`);
    if (pool === undefined) return;
    for (const c of pool.idle.splice(0)) {
      c.close();
      pool.open--;
    }
  }

  /** Open connections, per peer (for tests and `GET /v1/nodes`). */
  get connections(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [k, p] of this.#pools) out[k] = p.open;
    return out;
  }

  /**
   * Closes every idle connection; requests waiting fail with
   * `UnavailableError`. Done when it returns; the promise is for
   * `await using` and callers that close everything alike.
   */
  close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
    for (const pool of this.#pools.values()) {
      for (const c of pool.idle) c.close();
      pool.open -= pool.idle.length;
      pool.idle.length = 0;
      for (const w of pool.waiters.splice(0)) w.resolve(undefined);
    }
    return Promise.resolve();
  }

  /** Closes the client. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** Closes the client (`await using`). */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #acquire(peer: Peer): Promise<Connection> {
    if (this.#closed) throw new UnavailableError("The data plane client is closed");
    const key = `${peer.hostname}:${peer.port}`;
    let pool = this.#pools.get(key);
    if (pool === undefined) {
      pool = { idle: [], waiters: [], open: 0 };
      this.#pools.set(key, pool);
    }
    const idle = pool.idle.pop();
    if (idle !== undefined) return idle;
    const max = this.#options.connectionsPerPeer ?? 4;
    if (pool.open >= max) {
      const limit = this.#options.maxQueued ?? 1024;
      if (pool.waiters.length >= limit) {
        throw new UnavailableError(
          `Too many requests queued for node '${peer.node}': ${limit} wait already, retry later`,
        );
      }
      const ms = this.#options.queueTimeoutMs ?? 30_000;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const waiter: Waiter = { resolve: () => {} };
      const handed = await new Promise<Connection | undefined | typeof TIMED_OUT>((resolve) => {
        waiter.resolve = (c) => {
          clearTimeout(timer);
          resolve(c);
        };
        timer = setTimeout(() => {
          const at = pool.waiters.indexOf(waiter);
          if (at >= 0) pool.waiters.splice(at, 1);
          resolve(TIMED_OUT);
        }, ms);
        pool.waiters.push(waiter);
      });
      if (handed === TIMED_OUT) {
        throw new UnavailableError(
          `No connection to node '${peer.node}' came free within ${ms} ms: retry later`,
        );
      }
      if (handed !== undefined) return handed;
      if (this.#closed) throw new UnavailableError("The data plane client is closed");
      // A connection was dropped: open a new one in its place.
    }
    pool.open++;
    try {
      return await Connection.open(peer, this.#options);
    } catch (e) {
      pool.open--;
      this.#wakeOne(pool);
      throw e;
    }
  }

  #release(peer: Peer, conn: Connection, healthy: boolean): void {
    const key = `${peer.hostname}:${peer.port}`;
    const pool = this.#pools.get(key)!;
    if (!healthy || this.#closed) {
      conn.close();
      pool.open--;
      this.#wakeOne(pool);
      this.#forgetIfUnused(key, pool);
      return;
    }
    const w = pool.waiters.shift();
    if (w !== undefined) return w.resolve(conn);
    conn.idleSince = performance.now();
    pool.idle.push(conn);
    this.#sweepLater();
  }

  /**
   * Forgets a pool with no connection and no request waiting (a request
   * takes its pool and counts its connection in it without awaiting in
   * between, so none holds a pool forgotten).
   */
  #forgetIfUnused(key: string, pool: Pool): void {
    if (pool.open > 0 || pool.idle.length > 0 || pool.waiters.length > 0) return;
    if (this.#pools.get(key) === pool) this.#pools.delete(key);
  }

  /** Starts the sweep of idle connections, unless it runs. */
  #sweepLater(): void {
    if (this.#sweeper !== undefined || this.#closed) return;
    const idleMs = this.#options.idleMs ?? 60_000;
    const timer = setInterval(() => {
      const now = performance.now();
      let idle = 0;
      for (const [key, pool] of this.#pools) {
        // Oldest first: the list is in the order connections went idle.
        while (pool.idle.length > 0 && now - pool.idle[0]!.idleSince > idleMs) {
          pool.idle.shift()!.close();
          pool.open--;
        }
        idle += pool.idle.length;
        this.#forgetIfUnused(key, pool);
      }
      if (idle === 0) {
        clearInterval(timer);
        this.#sweeper = undefined;
      }
    }, Math.max(1, idleMs / 2));
    Deno.unrefTimer(timer);
    this.#sweeper = timer;
  }

  /** Lets one waiter open a connection in place of one that closed. */
  #wakeOne(pool: Pool): void {
    pool.waiters.shift()?.resolve(undefined);
  }
}

class Connection {
  readonly #conn: Deadlines;
  readonly #reader: FrameReader;
  readonly #peer: Peer;
  readonly #answerMs: number;
  /** Whether the stream is out of step (or closed) and must not carry another request. */
  broken = false;
  /** Whether the last request failed before any byte of its answer arrived. */
  unanswered = false;
  /** When it last went idle in its pool (`performance.now()`). */
  idleSince = 0;
  #closed = false;

  private constructor(conn: Deadlines, peer: Peer, answerMs: number) {
    this.#conn = conn;
    this.#reader = new FrameReader(conn);
    this.#peer = peer;
    this.#answerMs = answerMs;
  }

  static async open(peer: Peer, options: WireClientOptions): Promise<Connection> {
    const connectMs = options.connectTimeoutMs ?? 10_000;
    let conn: Deno.TcpConn;
    try {
      conn = await withDeadline(
        Deno.connect({ hostname: peer.hostname, port: peer.port }),
        connectMs,
        (late) => late.close(),
      );
    } catch (e) {
      metrics.wireRefused.inc({ side: "client" });
      log.warn("connection refused", {
        node: peer.node,
        peer: `${peer.hostname}:${peer.port}`,
        error: (e as Error).message,
      });
      throw new UnavailableError(
        `Node '${peer.node}' does not answer at ${peer.hostname}:${peer.port}: ${
          (e as Error).message
        }`,
        { cause: e },
      );
    }
    conn.setNoDelay(true);
    metrics.wireConnections.inc({ side: "client" });
    metrics.wireOpen.inc({ side: "client" });
    const stream = new Deadlines(conn, {
      writeMs: options.writeTimeoutMs ?? 30_000,
      what: `node '${peer.node}' at ${peer.hostname}:${peer.port}`,
    });
    const c = new Connection(stream, peer, options.answerTimeoutMs ?? 60_000);
    try {
      stream.expect(connectMs, connectMs);
      await writeFrame(stream, {
        kind: "hello",
        protocol: PROTOCOL,
        node: options.node,
        token: options.token ?? "",
      });
      const hello = await c.#reader.readFrame();
      if (hello === null) {
        throw new UnavailableError(`Node '${peer.node}' closed the connection before 'hello'`);
      }
      if (hello.kind === "failure") throw errorFromCode(hello.code, hello.message, hello.fields);
      if (hello.kind !== "hello") {
        throw new WireProtocolError(`Unexpected '${hello.kind}' frame: expected 'hello'`);
      }
    } catch (e) {
      c.close();
      throw e;
    }
    return c;
  }

  async request(
    id: number,
    copy: WireCopy,
    want: FragmentLayout,
    options: FetchOptions,
  ): Promise<Uint8Array> {
    this.broken = true;
    this.unanswered = false;
    const before = this.#reader.received;
    try {
      this.#conn.expect(this.#answerMs, Infinity, this.#answerMs);
      await writeFrame(this.#conn, { kind: "fetch", id, copy, want });
      const frame = await this.#reader.readFrame();
      if (frame === null) {
        throw new UnavailableError(`Node '${this.#peer.node}' closed the connection`);
      }
      if (frame.kind === "failure") {
        this.broken = frame.id !== id;
        throw errorFromCode(frame.code, frame.message, frame.fields);
      }
      if (frame.kind !== "header" || frame.id !== id) {
        throw new WireProtocolError(
          `Unexpected '${frame.kind}' frame: expected the header of request ${id}`,
        );
      }
      if (frame.byteLength !== want.byteLength) {
        throw new WireProtocolError(
          `Node '${this.#peer.node}' announced ${frame.byteLength} bytes for '${
            copyKey(copy.dataset, copy.version, copy.fragment, copy.bindings)
          }': expected ${want.byteLength}`,
        );
      }
      const out = options.into ?? new Uint8Array(frame.byteLength);
      const onData = options.onData;
      let sum = 0;
      let received = 0;
      // Checksummed piece by piece while the rest is still on the wire.
      await this.#reader.readPayload(out, (chunk) => {
        sum = crc32(chunk, sum);
        received += chunk.length;
        onData?.(received);
      });
      this.broken = false;
      if (sum !== frame.checksum) {
        const key = copyKey(copy.dataset, copy.version, copy.fragment, copy.bindings);
        metrics.checksumFailures.inc();
        log.warn("checksum mismatch", { copy: key, node: this.#peer.node });
        throw new ChecksumError(`${key} from node '${this.#peer.node}'`, frame.checksum, sum);
      }
      metrics.wireBytes.inc({ direction: "received" }, out.byteLength);
      return out;
    } catch (e) {
      // Not a deadline: a peer that answers nothing in time is not asked again.
      this.unanswered = this.broken && this.#reader.received === before &&
        !(e instanceof DeadlineError) &&
        !(e instanceof StrataError && !(e instanceof UnavailableError));
      if (e instanceof StrataError) throw e;
      throw new UnavailableError(
        `Node '${this.#peer.node}' at ${this.#peer.hostname}:${this.#peer.port} failed mid-request: ${
          (e as Error).message
        }`,
        { cause: e },
      );
    }
  }

  close(): void {
    if (!this.#closed) metrics.wireOpen.dec({ side: "client" });
    this.#closed = true;
    this.#conn.close();
  }
}

/**
 * `op`, or an `UnavailableError` once `ms` have passed; what `op` yields
 * after that is handed to `late` (to close it).
 */
async function withDeadline<T>(op: Promise<T>, ms: number, late: (v: T) => void): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let expired = false;
  try {
    return await Promise.race([
      op,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          expired = true;
          op.then(late, () => {});
          reject(new UnavailableError(`No connection within ${ms} ms`));
        }, ms);
      }),
    ]);
  } finally {
    if (!expired) clearTimeout(timer);
  }
}
