/**
 * The data plane's server side: answers `fetch` frames from peers with the
 * bytes of a stored copy, laid out as asked.
 *
 * @module
 */

import {
  errorBody,
  type StrataError,
  UnauthorizedError,
  UnavailableError,
  WireProtocolError,
} from "../errors.ts";
import type { FragmentLayout } from "../transform/layout.ts";
import { type Frame, PROTOCOL, type WireCopy } from "./codec.ts";
import { type ByteStream, FrameReader, writeFrame } from "./stream.ts";
import { Deadlines } from "./deadline.ts";
import { checkWant } from "./want.ts";
import { log, metrics } from "../observe/mod.ts";

/** What the server reads copies from (the node runtime). */
export interface FragmentSource {
  /**
   * The bytes of `copy` laid out as `want`, and their CRC-32. Throws a
   * `StrataError` (`gone`, `checksum_mismatch`, `invalid_layout`, ...) that
   * the peer receives as a `failure` frame.
   */
  produce(copy: WireCopy, want: FragmentLayout): Promise<Produced>;
}

/** Bytes a `FragmentSource` produced for one fetch. */
export interface Produced {
  /** The payload. */
  readonly bytes: Uint8Array;
  /** Its CRC-32. */
  readonly checksum: number;
  /**
   * Called once the payload has been written (or its write failed), when
   * `bytes` is a scratch buffer the source reuses: the server does not touch
   * `bytes` afterwards.
   */
  readonly release?: () => void;
}

/** Options of `WireServer.listen()`. */
export interface WireServerOptions {
  /** Address to listen on (default 127.0.0.1). */
  readonly hostname?: string;
  /** Port (0: any free port). */
  readonly port: number;
  /** This node's name, sent in `hello`. */
  readonly node: string;
  /** Where bytes come from. */
  readonly source: FragmentSource;
  /** Shared secret peers must present in `hello`, when set. */
  readonly token?: string;
  /** Connections past `hello` served at once; more are refused with `unavailable` (default 256). */
  readonly maxConnections?: number;
  /**
   * Connections not past `hello` yet (default 64): a new one past this closes
   * the one that has waited longest, so connections that never say `hello`
   * cannot keep peers out.
   */
  readonly maxPending?: number;
  /**
   * Connections from one peer address (default 64); a new one past this
   * closes that address's oldest connection not past `hello`, or is refused
   * when all of them are.
   */
  readonly maxPerAddress?: number;
  /** Time a connection has to send its `hello` (default 5 s). */
  readonly helloTimeoutMs?: number;
  /**
   * Time a connection may stay without sending a request before it is
   * closed, freeing its slot (default 120 s; a pooled peer opens a new one).
   */
  readonly idleTimeoutMs?: number;
  /** Time a frame under way has to arrive in full, from its first byte (default 10 s). */
  readonly frameTimeoutMs?: number;
  /** Time a write may make no progress (the peer reads nothing) before the connection is closed (default 30 s). */
  readonly writeTimeoutMs?: number;
}

/** A connection being served, and what the limits count of it. */
interface Served {
  readonly conn: Deno.TcpConn;
  /** The connection with its deadlines. */
  readonly stream: Deadlines;
  readonly address: string;
  /** Whether its `hello` is still awaited. */
  pending: boolean;
  closed: boolean;
}

/**
 * A listening data-plane server. Each connection answers one request at a
 * time and reads the next only once the answer is written, so a slow reader
 * holds back its own requests (TCP flow control) and nothing queues in
 * memory. Every wait has a deadline (`hello`, the next request, a frame
 * under way, a write), and connections are bounded in all, before `hello`
 * and per peer address.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { WireServer } from "./server.ts";
 * const server = WireServer.listen({
 *   port: 0,
 *   node: "a",
 *   source: { produce: () => Promise.reject(new Error("nothing here")) },
 * });
 * assert.ok(server.port > 0);
 * await server.close();
 * ```
 */
export class WireServer {
  readonly #listener: Deno.Listener<Deno.TcpConn, Deno.NetAddr>;
  readonly #options: WireServerOptions;
  /** Every connection, oldest first. */
  readonly #conns = new Map<Deno.TcpConn, Served>();
  readonly #served: Promise<void>;
  readonly #handlers = new Set<Promise<void>>();
  #established = 0;
  #closed = false;

  private constructor(options: WireServerOptions) {
    this.#options = options;
    this.#listener = Deno.listen({
      hostname: options.hostname ?? "127.0.0.1",
      port: options.port,
      transport: "tcp",
    });
    this.#served = this.#accept();
  }

  /** Listens and serves until `close()`. */
  static listen(options: WireServerOptions): WireServer {
    return new WireServer(options);
  }

  /** The port listened on. */
  get port(): number {
    return this.#listener.addr.port;
  }

  /** The address listened on. */
  get hostname(): string {
    return this.#listener.addr.hostname;
  }

  /** Connections open now: past `hello` (`established`) and not yet (`pending`). */
  get connections(): { readonly established: number; readonly pending: number } {
    return { established: this.#established, pending: this.#conns.size - this.#established };
  }

  /** Stops listening and closes every connection. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#listener.close();
    for (const c of this.#conns.values()) this.#drop(c);
    await this.#served;
    await Promise.allSettled([...this.#handlers]);
  }

  /** Closes the server. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #accept(): Promise<void> {
    try {
      for await (const conn of this.#listener) {
        const address = conn.remoteAddr.hostname;
        if (!this.#admit(address)) {
          this.#track(
            this.#refuse(
              conn,
              `Node '${this.#options.node}' serves ${this.#perAddress} connections from ${address} already: retry later`,
            ),
          );
          continue;
        }
        const stream = new Deadlines(conn, {
          writeMs: this.#options.writeTimeoutMs ?? 30_000,
          what: `peer ${address}`,
        });
        const served: Served = { conn, stream, address, pending: true, closed: false };
        this.#conns.set(conn, served);
        metrics.wireConnections.inc({ side: "server" });
        metrics.wireOpen.inc({ side: "server" });
        this.#track(
          this.#serve(served).finally(() => {
            metrics.wireOpen.dec({ side: "server" });
            this.#conns.delete(conn);
            if (!served.pending) this.#established--;
            this.#drop(served);
          }),
        );
      }
    } catch (e) {
      if (!this.#closed) throw e;
    }
  }

  get #perAddress(): number {
    return this.#options.maxPerAddress ?? 64;
  }

  /**
   * Makes room for a new connection from `address`: closes the oldest
   * connection still waiting for its `hello` from that address when the
   * address is at its limit, and the oldest overall when too many wait.
   * False when the address's connections are all past `hello`.
   */
  #admit(address: string): boolean {
    let fromAddress = 0;
    let oldestThere: Served | undefined;
    let oldestPending: Served | undefined;
    let pending = 0;
    for (const c of this.#conns.values()) {
      if (c.closed) continue;
      if (c.pending) {
        pending++;
        oldestPending ??= c;
      }
      if (c.address !== address) continue;
      fromAddress++;
      if (c.pending) oldestThere ??= c;
    }
    if (fromAddress >= this.#perAddress) {
      if (oldestThere === undefined) return false;
      this.#drop(oldestThere);
      if (oldestThere === oldestPending) oldestPending = undefined;
      pending--;
    }
    if (pending >= (this.#options.maxPending ?? 64)) {
      if (oldestPending === undefined) {
        for (const c of this.#conns.values()) {
          if (c.pending && !c.closed) {
            oldestPending = c;
            break;
          }
        }
      }
      if (oldestPending !== undefined) this.#drop(oldestPending);
    }
    return true;
  }

  /** Answers a connection it will not serve with an `unavailable` failure, and closes it. */
  async #refuse(conn: Deno.TcpConn, message: string): Promise<void> {
    refused(conn.remoteAddr.hostname, message);
    const out = new Deadlines(conn, { writeMs: 1000, what: "a refused peer" });
    await writeFrame(out, { kind: "failure", id: 0, ...errorBody(new UnavailableError(message)) })
      .catch(() => {});
    out.close();
  }

  #drop(c: Served): void {
    c.closed = true;
    c.stream.close();
  }

  #track(p: Promise<void>): void {
    this.#handlers.add(p);
    p.finally(() => this.#handlers.delete(p));
  }

  async #serve(served: Served): Promise<void> {
    const { conn, stream } = served;
    const o = this.#options;
    try {
      conn.setNoDelay(true);
      // A peer that vanished without closing is found out by the kernel.
      conn.setKeepAlive(true);
    } catch {
      // Closed already (evicted before it was served).
      return;
    }
    const reader = new FrameReader(stream);
    const frameMs = o.frameTimeoutMs ?? 10_000;
    try {
      // The whole hello, from the connection's start, within its deadline.
      const helloMs = o.helloTimeoutMs ?? 5_000;
      stream.expect(helloMs, helloMs);
      const hello = await reader.readFrame();
      if (hello === null) return;
      const refusal = this.#checkHello(hello);
      if (refusal !== undefined) {
        refused(served.address, refusal.message);
        await writeFrame(stream, { kind: "failure", id: 0, ...errorBody(refusal) });
        return;
      }
      const max = o.maxConnections ?? 256;
      if (this.#established >= max) {
        const busy = new UnavailableError(
          `Node '${o.node}' serves ${max} connections already: retry later`,
        );
        refused(served.address, busy.message);
        await writeFrame(stream, { kind: "failure", id: 0, ...errorBody(busy) });
        return;
      }
      served.pending = false;
      this.#established++;
      await writeFrame(stream, { kind: "hello", protocol: PROTOCOL, node: o.node, token: "" });
      while (!this.#closed) {
        stream.expect(o.idleTimeoutMs ?? 120_000, frameMs);
        const frame = await reader.readFrame();
        if (frame === null) return;
        if (frame.kind !== "fetch") {
          throw new WireProtocolError(`Unexpected '${frame.kind}' frame: expected 'fetch'`);
        }
        await this.#answer(stream, frame);
      }
    } catch (e) {
      if (this.#closed || served.closed) return;
      // A broken frame leaves the stream out of step: say why, then close.
      if (e instanceof WireProtocolError) {
        await writeFrame(stream, { kind: "failure", id: 0, ...errorBody(e) }).catch(() => {});
      }
    }
  }

  #checkHello(frame: Frame): StrataError | undefined {
    if (frame.kind !== "hello") {
      return new WireProtocolError(
        `Unexpected '${frame.kind}' frame: a connection starts with 'hello'`,
      );
    }
    if (frame.protocol !== PROTOCOL) {
      return new WireProtocolError(
        `Unsupported protocol ${frame.protocol}: this node speaks ${PROTOCOL}`,
      );
    }
    const token = this.#options.token;
    if (token !== undefined && frame.token !== token) {
      return new UnauthorizedError("Missing or wrong cluster token in 'hello'");
    }
    return undefined;
  }

  async #answer(conn: ByteStream, f: Frame & { kind: "fetch" }): Promise<void> {
    let out: Produced;
    try {
      // Checked before anything is read or allocated for it.
      checkWant(f.copy, f.want);
      out = await this.#options.source.produce(f.copy, f.want);
    } catch (e) {
      // The peer rebuilds the same error class, with the same fields.
      await writeFrame(conn, { kind: "failure", id: f.id, ...errorBody(e) });
      return;
    }
    try {
      await writeFrame(conn, {
        kind: "header",
        id: f.id,
        dataset: f.copy.dataset,
        version: f.copy.version,
        fragment: f.copy.fragment,
        bindings: f.copy.bindings,
        layout: f.want,
        byteLength: out.bytes.byteLength,
        checksum: out.checksum,
      }, out.bytes);
      metrics.wireBytes.inc({ direction: "sent" }, out.bytes.byteLength);
    } finally {
      out.release?.();
    }
  }
}

/** Counts and logs a data-plane connection this server refused. */
function refused(peer: string, error: string): void {
  metrics.wireRefused.inc({ side: "server" });
  log.warn("connection refused", { peer, error });
}
