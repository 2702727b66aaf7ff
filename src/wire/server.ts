/**
 * The data plane's server side: answers `fetch` frames from peers with the
 * bytes of a stored copy, laid out as asked.
 *
 * @module
 */

import { StrataError, WireProtocolError } from "../errors.ts";
import type { FragmentLayout } from "../transform/layout.ts";
import { type CopyRef, type Frame, PROTOCOL } from "./codec.ts";
import { FrameReader, writeFrame } from "./stream.ts";

/** What the server reads copies from (the node runtime). */
export interface FragmentSource {
  /**
   * The bytes of `copy` laid out as `want`, and their CRC-32. Throws a
   * `StrataError` (`gone`, `checksum_mismatch`, `invalid_layout`, ...) that
   * the peer receives as a `failure` frame.
   */
  produce(copy: CopyRef, want: FragmentLayout): Promise<Produced>;
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
  /** Connections served at once; more are refused with `unavailable` (default 256). */
  readonly maxConnections?: number;
}

/**
 * A listening data-plane server. Each connection answers one request at a
 * time and reads the next only once the answer is written, so a slow reader
 * holds back its own requests (TCP flow control) and nothing queues in
 * memory.
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
  readonly #conns = new Set<Deno.TcpConn>();
  readonly #served: Promise<void>;
  readonly #handlers = new Set<Promise<void>>();
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

  /** Stops listening and closes every connection. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#listener.close();
    for (const c of this.#conns) {
      try {
        c.close();
      } catch {
        // Already closed by its handler.
      }
    }
    await this.#served;
    await Promise.allSettled([...this.#handlers]);
  }

  /** Closes the server. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #accept(): Promise<void> {
    const max = this.#options.maxConnections ?? 256;
    try {
      for await (const conn of this.#listener) {
        if (this.#conns.size >= max) {
          const refused = writeFrame(conn, {
            kind: "failure",
            id: 0,
            code: "unavailable",
            message: `Node '${this.#options.node}' serves ${max} connections already: retry later`,
          }).catch(() => {}).finally(() => conn.close());
          this.#track(refused);
          continue;
        }
        this.#conns.add(conn);
        this.#track(
          this.#serve(conn).finally(() => {
            this.#conns.delete(conn);
            try {
              conn.close();
            } catch {
              // Closed by close() already.
            }
          }),
        );
      }
    } catch (e) {
      if (!this.#closed) throw e;
    }
  }

  #track(p: Promise<void>): void {
    this.#handlers.add(p);
    p.finally(() => this.#handlers.delete(p));
  }

  async #serve(conn: Deno.TcpConn): Promise<void> {
    conn.setNoDelay(true);
    const reader = new FrameReader(conn);
    try {
      const hello = await reader.readFrame();
      if (hello === null) return;
      const refusal = this.#checkHello(hello);
      if (refusal !== undefined) {
        await writeFrame(conn, { kind: "failure", id: 0, ...refusal });
        return;
      }
      await writeFrame(conn, {
        kind: "hello",
        protocol: PROTOCOL,
        node: this.#options.node,
        token: "",
      });
      while (!this.#closed) {
        const frame = await reader.readFrame();
        if (frame === null) return;
        if (frame.kind !== "fetch") {
          throw new WireProtocolError(`Unexpected '${frame.kind}' frame: expected 'fetch'`);
        }
        await this.#answer(conn, frame);
      }
    } catch (e) {
      if (this.#closed) return;
      // A broken frame leaves the stream out of step: say why, then close.
      if (e instanceof WireProtocolError) {
        await writeFrame(conn, { kind: "failure", id: 0, code: e.code, message: e.message })
          .catch(() => {});
      }
    }
  }

  #checkHello(frame: Frame): { code: string; message: string } | undefined {
    if (frame.kind !== "hello") {
      return {
        code: "wire_protocol",
        message: `Unexpected '${frame.kind}' frame: a connection starts with 'hello'`,
      };
    }
    if (frame.protocol !== PROTOCOL) {
      return {
        code: "wire_protocol",
        message: `Unsupported protocol ${frame.protocol}: this node speaks ${PROTOCOL}`,
      };
    }
    const token = this.#options.token;
    if (token !== undefined && frame.token !== token) {
      return { code: "unauthorized", message: "Missing or wrong cluster token in 'hello'" };
    }
    return undefined;
  }

  async #answer(conn: Deno.TcpConn, f: Frame & { kind: "fetch" }): Promise<void> {
    let out: Produced;
    try {
      out = await this.#options.source.produce(f.copy, f.want);
    } catch (e) {
      const code = e instanceof StrataError ? e.code : "internal";
      const message = e instanceof Error ? e.message : String(e);
      await writeFrame(conn, { kind: "failure", id: f.id, code, message });
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
    } finally {
      out.release?.();
    }
  }
}
