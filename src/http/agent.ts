/**
 * An HTTP/1.1 client for the calls between Strata processes and from its
 * TypeScript clients: `agentFetch()` answers a standard `Response`, as
 * `fetch()` does, over keep-alive TCP connections it pools per origin.
 *
 * Why: Deno's `fetch()` costs about 42 µs of the caller's CPU per small
 * call with 64 in flight on this project's reference machine (URL parsing,
 * `Request` and `Headers` objects, body streams), this agent 21
 * (`deno task bench http-agent`, bench/results/http_agent.md). A client
 * that makes small calls (a HEPnOS
 * product, a publish, a lookup) spends most of its time there, and on a
 * node whose cores run the simulation, the server and many client processes
 * that time is taken from them. npm's `undici` measured no better than
 * `fetch()` under Deno. It covers what the callers send: `http:` URLs with
 * a body of bytes, text or none; anything else (`https:`, a stream or form
 * body) goes to `fetch()`.
 *
 * What it does:
 * - a connection per request in flight, up to `maxConnections` per origin
 *   (requests past that wait their turn, at most `maxWaiting`); idle ones
 *   kept up to `maxIdle` for `idleMs`, each with a read pending so that one
 *   the server closes leaves the pool at once;
 * - the request's head and a body up to 64 KiB in one write, `TCP_NODELAY`;
 * - answers framed by `content-length`, chunked, or by the end of the
 *   connection; those up to `wholeBytes` read whole before the `Response`
 *   is made, longer ones streamed as its body (the connection goes back to
 *   the pool once the body is read to its end, and is closed if the reader
 *   cancels);
 * - an early answer (a 413 while the body is still being sent) is read and
 *   answered;
 * - `signal` aborts at any point, rejecting with its reason, and closes the
 *   connection; a network failure is a `TypeError` naming the origin, as
 *   `fetch()`'s is; a request is never sent twice, but for a GET or HEAD
 *   whose kept connection failed before any answer came (the server closed
 *   it while idle), sent once more on a new one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { HttpAgent } from "./agent.ts";
 * const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) =>
 *   Response.json({ method: req.method, got: await req.json() }));
 * const agent = new HttpAgent();
 * const res = await agent.fetch(`http://127.0.0.1:${server.addr.port}/x`, {
 *   method: "POST",
 *   headers: { "content-type": "application/json" },
 *   body: JSON.stringify({ n: 1 }),
 * });
 * assert.deepEqual(await res.json(), { method: "POST", got: { n: 1 } });
 * await agent.close();
 * await server.shutdown();
 * ```
 *
 * @module
 */

import { joinBytes } from "./join_bytes.ts";

/** Options of an `HttpAgent`. */
export interface HttpAgentOptions {
  /** Most connections open to one origin (default 512). */
  readonly maxConnections?: number;
  /** Most requests waiting for a connection to one origin (default 65,536). */
  readonly maxWaiting?: number;
  /** Most idle connections kept per origin (default 64). */
  readonly maxIdle?: number;
  /** How long an idle connection is kept, ms (default 4,000; closed within half as long again). */
  readonly idleMs?: number;
  /** Largest answer head, bytes (default 64 KiB). */
  readonly maxHeadBytes?: number;
  /** Answers up to this many bytes are read whole before the `Response` is made (default 1 MiB). */
  readonly wholeBytes?: number;
}

/**
 * A request to an `HttpAgent`: `fetch()`'s init, with a deadline and a
 * body in pieces.
 */
export interface AgentRequestInit extends RequestInit {
  /**
   * Fails the request with a `TimeoutError` (as `AbortSignal.timeout()`
   * would) once it has taken this long, its answer's body read included.
   * Checked by one timer of the agent rather than a timer per request: an
   * `AbortSignal.timeout()` of 60 s holds about 300 bytes of the heap until
   * it fires, 150 MB in a client making 8,000 calls a second.
   */
  readonly timeoutMs?: number;
  /**
   * The body as pieces sent one after the other (`body` is then ignored):
   * a framed batch is not copied into one buffer first.
   */
  readonly pieces?: readonly Uint8Array[];
}

/**
 * An answer read whole (`HttpAgent.fetchBytes`): its status, its body's
 * bytes in one buffer of their own, and its headers.
 */
export interface AgentBytes {
  /** The status code. */
  readonly status: number;
  /** Whether the status is 2xx. */
  readonly ok: boolean;
  /** The body. */
  readonly bytes: Uint8Array<ArrayBuffer>;
  /** A header's value (the first of that name), or null. */
  header(name: string): string | null;
}

/** Options of `HttpAgent.fetchBytes`: a request's, and the most bytes its answer may hold. */
export interface AgentBytesInit extends AgentRequestInit {
  /** Longest body read, in bytes (default 1 GiB): a longer answer fails with a `TypeError`. */
  readonly maxBytes?: number;
}

/** Longest body `fetchBytes` reads by default. */
const MAX_WHOLE_BYTES = 1 << 30;

/** A request's deadline: aborted by the agent's deadline timer once past. */
interface Deadline {
  readonly at: number;
  readonly controller: AbortController;
}

/** Finest and coarsest period of the deadline timer, ms. */
const DEADLINE_TICK_MIN_MS = 5;
const DEADLINE_TICK_MAX_MS = 1000;

const READ_BYTES = 64 * 1024;
const STREAM_CHUNK = 1 << 20;
const JOIN_BYTES = 64 * 1024;
const encoder = new TextEncoder();
const latin1 = new TextDecoder("latin1");

/** One pooled connection and the bytes read from it not yet used. */
class Connection {
  readonly conn: Deno.TcpConn;
  buf = new Uint8Array(READ_BYTES);
  /** Unread bytes are `buf[start:end]`. */
  start = 0;
  end = 0;
  /** A read started while idle: the next bytes, or the end. */
  pending: Promise<number | null> | undefined;
  closed = false;
  /** When it last went idle (performance.now()). */
  idleSince = 0;

  constructor(conn: Deno.TcpConn) {
    this.conn = conn;
  }

  /** Reads more bytes after `end` (growing the buffer up to `limit`); false at the end. */
  async fill(limit: number): Promise<boolean> {
    if (this.start === this.end) this.start = this.end = 0;
    let pending = this.pending;
    this.pending = undefined;
    if (pending === undefined) {
      if (this.end === this.buf.length) {
        if (this.start > 0) {
          this.buf.copyWithin(0, this.start, this.end);
          this.end -= this.start;
          this.start = 0;
        } else {
          if (this.buf.length >= limit) throw new TypeError("answer head too large");
          const bigger = new Uint8Array(Math.min(limit, this.buf.length * 2));
          bigger.set(this.buf.subarray(0, this.end));
          this.buf = bigger;
        }
      }
      pending = this.conn.read(this.buf.subarray(this.end));
    }
    const n = await pending;
    if (n === null) return false;
    this.end += n;
    return true;
  }

  /** Starts the read that notices the server closing this idle connection. */
  watch(onEnd: () => void): void {
    // Idle: nothing is unread (a server sends nothing unasked).
    this.start = this.end = 0;
    // An idle connection does not keep the process alive.
    this.conn.unref();
    const pending = this.conn.read(this.buf);
    this.pending = pending;
    pending.then(() => {
      // Bytes or the end while idle: the connection is no longer usable.
      if (this.pending === pending) onEnd();
    }, () => {
      if (this.pending === pending) onEnd();
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.conn.close();
    } catch {
      // Closed already.
    }
  }
}

/** The connections of one origin. */
interface Origin {
  /** Its key in the agent's map (`host:port`). */
  readonly key: string;
  readonly hostname: string;
  readonly port: number;
  readonly idle: Connection[];
  open: number;
  readonly waiting: (() => void)[];
}

/** A parsed answer head. */
interface Head {
  readonly status: number;
  readonly statusText: string;
  readonly headers: [string, string][];
  /** The server keeps the connection open after this answer, if its end can be found. */
  readonly keepAlive: boolean;
  readonly length: number | undefined;
  readonly chunked: boolean;
}

/**
 * Keep-alive HTTP/1.1 connections pooled per origin; `fetch()` answers a
 * standard `Response`. See the module's documentation.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { HttpAgent } from "./agent.ts";
 * const ports = new Set<number>();
 * const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (_req, info) => {
 *   ports.add(info.remoteAddr.port);
 *   return new Response("ok");
 * });
 * const agent = new HttpAgent();
 * for (let i = 0; i < 3; i++) {
 *   assert.equal(await (await agent.fetch(`http://127.0.0.1:${server.addr.port}/`)).text(), "ok");
 * }
 * assert.equal(ports.size, 1);
 * await agent.close();
 * await server.shutdown();
 * ```
 */
export class HttpAgent {
  readonly #maxConnections: number;
  readonly #maxWaiting: number;
  readonly #maxIdle: number;
  readonly #idleMs: number;
  readonly #maxHeadBytes: number;
  readonly #wholeBytes: number;
  readonly #origins = new Map<string, Origin>();
  #sweeper: ReturnType<typeof setInterval> | undefined;
  /** Requests with a deadline not yet settled. */
  readonly #deadlines = new Set<Deadline>();
  #deadlineTimer: ReturnType<typeof setInterval> | undefined;
  #deadlineTick = Infinity;

  /** An agent with no connection open yet. */
  constructor(options: HttpAgentOptions = {}) {
    this.#maxConnections = options.maxConnections ?? 512;
    this.#maxWaiting = options.maxWaiting ?? 65_536;
    this.#maxIdle = options.maxIdle ?? 64;
    this.#idleMs = options.idleMs ?? 4_000;
    this.#maxHeadBytes = options.maxHeadBytes ?? 64 * 1024;
    this.#wholeBytes = options.wholeBytes ?? 1 << 20;
  }

  /**
   * Sends a request and answers its `Response`, as `fetch()` does: over a
   * pooled connection for an `http:` URL with a body of bytes, text or
   * none; through `fetch()` otherwise.
   */
  fetch(input: string | URL, init: AgentRequestInit = {}): Promise<Response> {
    const url = typeof input === "string" ? new URL(input) : input;
    const body = init.pieces ?? bodyBytes(init.body);
    if (url.protocol !== "http:" || body === false) return fetch(input, fetchInit(init));
    return this.#request(url, init, body, undefined) as Promise<Response>;
  }

  /**
   * Sends a request as `fetch` does and reads its answer whole, without a
   * `Response`: a body of known length straight into one buffer of that
   * length, a chunked one joined once read. A `Response` copies a buffer
   * given as its body, and one streamed is read in pieces joined again: a
   * 1 MiB HEPnOS product loaded in 1.6-1.7 ms through one, 1.2 ms this way
   * (one client loading it over and over, timed alone). The body may hold at most `maxBytes`.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { HttpAgent } from "./agent.ts";
   * const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () =>
   *   new Response(new Uint8Array(3 << 20).fill(7), { headers: { "x-n": "1" } }));
   * const agent = new HttpAgent();
   * const a = await agent.fetchBytes(`http://127.0.0.1:${server.addr.port}/`);
   * assert.equal(a.ok, true);
   * assert.equal(a.bytes.byteLength, 3 << 20);
   * assert.equal(a.header("X-N"), "1");
   * await agent.close();
   * await server.shutdown();
   * ```
   */
  async fetchBytes(input: string | URL, init: AgentBytesInit = {}): Promise<AgentBytes> {
    const url = typeof input === "string" ? new URL(input) : input;
    const body = init.pieces ?? bodyBytes(init.body);
    const max = init.maxBytes ?? MAX_WHOLE_BYTES;
    if (url.protocol === "http:" && body !== false) {
      return await this.#request(url, init, body, max) as AgentBytes;
    }
    return await fetchWhole(input, init);
  }

  /** A request over a pooled connection: a `Response`, or (with `whole`, its most bytes) `AgentBytes`. */
  #request(
    url: URL,
    init: AgentRequestInit,
    body: Uint8Array | readonly Uint8Array[] | undefined,
    whole: number | undefined,
  ): Promise<Response | AgentBytes> {
    const type = typeof init.body === "string" ? "text/plain;charset=UTF-8" : undefined;
    if (init.timeoutMs === undefined) {
      return this.#send(url, init, init.signal ?? undefined, body, type, whole);
    }
    if (!(init.timeoutMs >= 0)) {
      return Promise.reject(
        new RangeError(`Invalid timeoutMs: expected a number >= 0, found ${init.timeoutMs}`),
      );
    }
    const deadline = this.#deadline(init.timeoutMs);
    // The caller's signal aborts the deadline's controller: a listener for
    // the request's time rather than `AbortSignal.any()`, whose dependent
    // signal a long-lived one (a client's stop signal) tracks until GC.
    const user = init.signal ?? undefined;
    const forward = () => deadline.controller.abort(user!.reason);
    if (user?.aborted) forward();
    else user?.addEventListener("abort", forward, { once: true });
    const settled = () => {
      this.#deadlines.delete(deadline);
      user?.removeEventListener("abort", forward);
    };
    return this.#send(url, init, deadline.controller.signal, body, type, whole, settled).catch(
      (e) => {
        settled();
        throw e;
      },
    );
  }

  /**
   * Closes every idle connection; those in use close once their answer is
   * read. The agent stays usable: a later call opens a new connection.
   */
  close(): Promise<void> {
    for (const o of this.#origins.values()) {
      for (const c of o.idle.splice(0)) this.#drop(o, c);
    }
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
    return Promise.resolve();
  }

  /** Closes. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #send(
    url: URL,
    init: RequestInit,
    signal: AbortSignal | undefined,
    body: Uint8Array | readonly Uint8Array[] | undefined,
    type: string | undefined,
    whole: number | undefined,
    settled?: () => void,
    retry = true,
  ): Promise<Response | AgentBytes> {
    signal?.throwIfAborted();
    const method = (init.method ?? "GET").toUpperCase();
    const head = requestHead(url, method, init.headers, body, type);
    const origin = this.#origin(url);
    const c = await this.#take(origin, url, signal);
    // Idle before: the server may have closed it just now, unnoticed yet.
    const reused = c.idleSince > 0;
    let answered = false;
    let released = false;
    const release = (reuse: boolean) => {
      if (released) return;
      released = true;
      signal?.removeEventListener("abort", onAbort);
      settled?.();
      this.#giveBack(origin, c, reuse);
    };
    const onAbort = () => {
      c.close();
      release(false);
    };
    // Aborted while it waited for a connection: nothing was sent on it.
    if (signal?.aborted) {
      release(true);
      throw signal.reason;
    }
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      let writeError: unknown;
      try {
        await writeRequest(c.conn, head, body);
      } catch (e) {
        // The server may have answered early (a body too large) and closed: read what it said.
        writeError = e;
      }
      let h: Head;
      try {
        h = await this.#readHead(c);
      } catch (e) {
        throw writeError ?? e;
      }
      answered = true;
      const noBody = method === "HEAD" || h.status === 204 || h.status === 304;
      // Reused only when the answer's end is known (no body, a length, chunks).
      const reuse = h.keepAlive && writeError === undefined &&
        (noBody || h.chunked || h.length !== undefined);
      if (whole !== undefined) {
        // Read whole: no `Response`, the body in one buffer of its own.
        if (noBody || h.length === 0) {
          release(reuse);
          return bytesAnswer(h, new Uint8Array(0));
        }
        if (h.length !== undefined) {
          if (h.length > whole) throw tooLong(url, `${h.length} bytes`, whole);
          const bytes = await readExact(c, h.length);
          release(reuse);
          return bytesAnswer(h, bytes);
        }
        const stream = this.#stream(url, c, h, reuse, release, signal);
        return bytesAnswer(h, await readAll(stream, url, whole));
      }
      if (noBody || h.length === 0) {
        release(reuse);
        return answer(h, null);
      }
      if (h.length !== undefined && h.length <= this.#wholeBytes) {
        const bytes = await readExact(c, h.length);
        release(reuse);
        return answer(h, bytes);
      }
      return answer(h, this.#stream(url, c, h, reuse, release, signal));
    } catch (e) {
      c.close();
      // A GET or HEAD on a kept connection that failed before any answer
      // came (the server closed it while it sat idle, as a restarted server
      // does) is sent once more on a new connection: it changes nothing, so
      // sending it twice is safe. Other methods are never sent twice.
      if (
        retry && reused && !answered && !signal?.aborted && (method === "GET" || method === "HEAD")
      ) {
        released = true;
        signal?.removeEventListener("abort", onAbort);
        this.#giveBack(origin, c, false);
        // Its idle neighbours likely went the same way.
        for (const idle of origin.idle.splice(0)) this.#drop(origin, idle);
        return await this.#send(url, init, signal, body, type, whole, settled, false);
      }
      release(false);
      if (signal?.aborted) throw signal.reason;
      throw networkError(url, e);
    }
  }

  /** The body of a long, chunked or close-delimited answer, read as its reader pulls. */
  #stream(
    url: URL,
    c: Connection,
    h: Head,
    reuse: boolean,
    release: (reuse: boolean) => void,
    signal: AbortSignal | undefined,
  ): ReadableStream<Uint8Array> {
    let left = h.length ?? 0;
    // Chunked: bytes left in the current chunk; -1 before the first size line.
    let inChunk = -1;
    const end = (controller: ReadableStreamDefaultController<Uint8Array>, ok: boolean) => {
      release(ok && reuse);
      controller.close();
    };
    return new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        try {
          if (h.chunked) {
            if (inChunk <= 0) {
              if (inChunk === 0) await readCrlf(c, this.#maxHeadBytes);
              inChunk = parseInt(await readLine(c, this.#maxHeadBytes), 16);
              if (!Number.isSafeInteger(inChunk) || inChunk < 0) {
                throw new TypeError("bad chunk size in the answer");
              }
              if (inChunk === 0) {
                // Trailers, up to the empty line.
                while ((await readLine(c, this.#maxHeadBytes)) !== "");
                return end(controller, true);
              }
            }
            const piece = await readSome(c, Math.min(inChunk, STREAM_CHUNK));
            inChunk -= piece.length;
            controller.enqueue(piece);
            return;
          }
          if (h.length === undefined) {
            // Until the server closes the connection.
            const piece = await readSome(c, STREAM_CHUNK, true);
            if (piece.length === 0) return end(controller, false);
            controller.enqueue(piece);
            return;
          }
          const piece = await readSome(c, Math.min(left, STREAM_CHUNK));
          left -= piece.length;
          controller.enqueue(piece);
          if (left === 0) end(controller, true);
        } catch (e) {
          c.close();
          release(false);
          controller.error(signal?.aborted ? signal.reason : networkError(url, e));
        }
      },
      cancel: () => {
        c.close();
        release(false);
      },
    }, { highWaterMark: 0 });
  }

  async #readHead(c: Connection): Promise<Head> {
    for (;;) {
      let at = headEnd(c.buf, c.start, c.end);
      while (at < 0) {
        if (c.end - c.start > this.#maxHeadBytes) break;
        if (!(await c.fill(this.#maxHeadBytes + 4))) {
          throw new TypeError("the connection closed before an answer");
        }
        at = headEnd(c.buf, c.start, c.end);
      }
      if (at < 0 || at - c.start > this.#maxHeadBytes) {
        throw new TypeError(`answer head too large: over ${this.#maxHeadBytes} bytes`);
      }
      const text = latin1.decode(c.buf.subarray(c.start, at));
      c.start = at + 4;
      const h = parseHead(text);
      // Interim answers (100 Continue) come before the real one.
      if (h.status < 100 || h.status >= 200) return h;
    }
  }

  /**
   * A deadline `ms` from now, watched by the agent's deadline timer, which
   * runs while any is pending at a period of an eighth of the shortest
   * timeout asked (5 ms to 1 s).
   */
  #deadline(ms: number): Deadline {
    const d: Deadline = { at: performance.now() + ms, controller: new AbortController() };
    this.#deadlines.add(d);
    const tick = Math.min(DEADLINE_TICK_MAX_MS, Math.max(DEADLINE_TICK_MIN_MS, ms / 8));
    if (this.#deadlineTimer === undefined || tick < this.#deadlineTick) {
      clearInterval(this.#deadlineTimer);
      this.#deadlineTick = tick;
      this.#deadlineTimer = setInterval(() => this.#expire(), tick);
      Deno.unrefTimer(this.#deadlineTimer);
    }
    return d;
  }

  /** Aborts the requests past their deadline; stops the timer once none is pending. */
  #expire(): void {
    const now = performance.now();
    for (const d of this.#deadlines) {
      if (d.at > now) continue;
      this.#deadlines.delete(d);
      d.controller.abort(new DOMException("Signal timed out.", "TimeoutError"));
    }
    if (this.#deadlines.size === 0) {
      clearInterval(this.#deadlineTimer);
      this.#deadlineTimer = undefined;
      this.#deadlineTick = Infinity;
    }
  }

  #origin(url: URL): Origin {
    const key = url.host;
    let o = this.#origins.get(key);
    if (o === undefined) {
      const hostname = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
      o = { key, hostname, port: Number(url.port || 80), idle: [], open: 0, waiting: [] };
      this.#origins.set(key, o);
    }
    return o;
  }

  async #take(o: Origin, url: URL, signal: AbortSignal | undefined): Promise<Connection> {
    for (;;) {
      const idle = o.idle.pop();
      if (idle !== undefined) {
        if (performance.now() - idle.idleSince > this.#idleMs) {
          this.#drop(o, idle);
          continue;
        }
        idle.conn.ref();
        return idle;
      }
      if (o.open < this.#maxConnections) break;
      if (o.waiting.length >= this.#maxWaiting) {
        throw new TypeError(
          `${o.waiting.length} requests to ${url.origin} are waiting for one of its ${o.open} connections: send fewer at once`,
        );
      }
      await new Promise<void>((resolve, reject) => {
        const go = () => {
          signal?.removeEventListener("abort", stop);
          resolve();
        };
        const stop = () => {
          const at = o.waiting.indexOf(go);
          if (at >= 0) o.waiting.splice(at, 1);
          reject(signal!.reason);
        };
        o.waiting.push(go);
        signal?.addEventListener("abort", stop, { once: true });
      });
    }
    o.open++;
    try {
      // The caller's deadline covers the connect too: a listener whose
      // backlog is full, or a host that drops packets, leaves it hanging.
      const conn = await unlessAborted(
        Deno.connect({ hostname: o.hostname, port: o.port }),
        signal,
        (late) => late.close(),
      );
      conn.setNoDelay(true);
      return new Connection(conn);
    } catch (e) {
      o.open--;
      this.#wakeOrForget(o);
      if (signal?.aborted) throw signal.reason;
      throw networkError(url, e);
    }
  }

  #giveBack(o: Origin, c: Connection, reuse: boolean): void {
    if (!reuse || c.closed || c.start !== c.end || o.idle.length >= this.#maxIdle) {
      return this.#drop(o, c);
    }
    c.watch(() => {
      const at = o.idle.indexOf(c);
      if (at < 0) return;
      o.idle.splice(at, 1);
      this.#drop(o, c);
    });
    c.idleSince = performance.now();
    o.idle.push(c);
    this.#sweepLater();
    // A waiter takes it.
    o.waiting.shift()?.();
  }

  /** Closes `c`, taken out of `o`'s idle list, and lets a waiter open a connection. */
  #drop(o: Origin, c: Connection): void {
    c.close();
    o.open--;
    this.#wakeOrForget(o);
  }

  /**
   * After one of `o`'s connections closed: lets a waiting call open one in
   * its place, or forgets `o` when it has no connection left either, so a
   * process whose peers restart on new ports keeps no entry per address it
   * ever used. (A call takes its origin and opens a connection on it
   * without awaiting in between, so none holds one forgotten.)
   */
  #wakeOrForget(o: Origin): void {
    const next = o.waiting.shift();
    if (next !== undefined) return next();
    if (o.open > 0 || o.idle.length > 0) return;
    if (this.#origins.get(o.key) === o) this.#origins.delete(o.key);
  }

  /** Origins the agent holds connections to, or has calls waiting for. */
  get origins(): number {
    return this.#origins.size;
  }

  /**
   * Closes connections idle past `idleMs`, every half of it while any are
   * idle: one timer for the agent rather than one per connection (a timer
   * set and cleared per call was a tenth of a small call's CPU).
   */
  #sweepLater(): void {
    if (this.#sweeper !== undefined) return;
    const timer = setInterval(() => {
      const now = performance.now();
      let idle = 0;
      for (const o of this.#origins.values()) {
        // Oldest first: the list is in the order connections went idle.
        while (o.idle.length > 0 && now - o.idle[0]!.idleSince > this.#idleMs) {
          this.#drop(o, o.idle.shift()!);
        }
        idle += o.idle.length;
      }
      if (idle === 0) {
        clearInterval(timer);
        this.#sweeper = undefined;
      }
    }, Math.max(1, this.#idleMs / 2));
    Deno.unrefTimer(timer);
    this.#sweeper = timer;
  }
}

/** The process's agent, shared by its calls. */
export const defaultAgent: HttpAgent = new HttpAgent();

/**
 * `fetch()` through the process's shared `HttpAgent`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { agentFetch } from "./agent.ts";
 * const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => new Response(null, { status: 204 }));
 * assert.equal((await agentFetch(`http://127.0.0.1:${server.addr.port}/`)).status, 204);
 * await server.shutdown();
 * ```
 */
export function agentFetch(input: string | URL, init?: AgentRequestInit): Promise<Response> {
  return defaultAgent.fetch(input, init);
}

/**
 * `init` as `fetch()` takes it: pieces joined, the deadline an
 * `AbortSignal.timeout()` (with the caller's signal when there is one).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fetchInit } from "./agent.ts";
 * const init = fetchInit({ method: "POST", pieces: [new Uint8Array([1]), new Uint8Array([2])], timeoutMs: 1000 });
 * assert.deepEqual(init.body, new Uint8Array([1, 2]));
 * assert.ok(init.signal instanceof AbortSignal);
 * ```
 */
export function fetchInit(init: AgentRequestInit): RequestInit {
  const { timeoutMs, pieces, ...rest } = init;
  const out: RequestInit = rest;
  if (pieces !== undefined) out.body = joinBytes(pieces);
  if (timeoutMs !== undefined) {
    const timeout = AbortSignal.timeout(timeoutMs);
    out.signal = init.signal ? AbortSignal.any([init.signal, timeout]) : timeout;
  }
  return out;
}

function byteLengthOf(body: Uint8Array | readonly Uint8Array[]): number {
  if (body instanceof Uint8Array) return body.byteLength;
  let n = 0;
  for (const p of body) n += p.byteLength;
  return n;
}

/** A body as bytes (undefined: none), or false for a kind this agent leaves to `fetch()`. */
function bodyBytes(body: BodyInit | null | undefined): Uint8Array | undefined | false {
  if (body === undefined || body === null) return undefined;
  if (typeof body === "string") return encoder.encode(body);
  if (body instanceof Uint8Array) return body;
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  if (ArrayBuffer.isView(body)) {
    return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  }
  return false;
}

function requestHead(
  url: URL,
  method: string,
  headers: HeadersInit | undefined,
  body: Uint8Array | readonly Uint8Array[] | undefined,
  type: string | undefined,
): Uint8Array {
  let head = `${method} ${url.pathname}${url.search} HTTP/1.1\r\nhost: ${url.host}\r\n`;
  let typed = false;
  const add = (name: string, value: string) => {
    const n = name.toLowerCase();
    if (n === "host" || n === "content-length" || n === "connection" || n === "transfer-encoding") {
      return;
    }
    if (hasLineBreak(name) || hasLineBreak(value)) {
      throw new TypeError(`Invalid header '${name}': it holds a line break`);
    }
    if (n === "content-type") typed = true;
    head += `${name}: ${value}\r\n`;
  };
  if (headers instanceof Headers) headers.forEach((v, k) => add(k, v));
  else if (Array.isArray(headers)) { for (const [k, v] of headers) add(k!, v!); }
  else if (headers !== undefined) {
    for (const [k, v] of Object.entries(headers as Record<string, string>)) add(k, v);
  }
  if (body !== undefined) {
    if (!typed && type !== undefined) head += `content-type: ${type}\r\n`;
    head += `content-length: ${byteLengthOf(body)}\r\n`;
  } else if (method !== "GET" && method !== "HEAD") {
    head += "content-length: 0\r\n";
  }
  return encoder.encode(head + "\r\n");
}

function hasLineBreak(s: string): boolean {
  return s.includes("\r") || s.includes("\n");
}

/**
 * Writes the head and the body: runs of pieces up to `JOIN_BYTES` in all
 * copied into one write, longer pieces written as they are.
 */
async function writeRequest(
  conn: Deno.TcpConn,
  head: Uint8Array,
  body: Uint8Array | readonly Uint8Array[] | undefined,
): Promise<void> {
  const pieces = body === undefined ? [head] : body instanceof Uint8Array ? [head, body] : [
    head,
    ...body,
  ];
  for (let i = 0; i < pieces.length;) {
    let j = i + 1;
    let n = pieces[i]!.byteLength;
    while (j < pieces.length && n + pieces[j]!.byteLength <= JOIN_BYTES) {
      n += pieces[j++]!.byteLength;
    }
    await writeAll(conn, j === i + 1 ? pieces[i]! : joinBytes(pieces.slice(i, j)));
    i = j;
  }
}

async function writeAll(conn: Deno.TcpConn, bytes: Uint8Array): Promise<void> {
  for (let at = 0; at < bytes.byteLength;) at += await conn.write(bytes.subarray(at));
}

function parseHead(text: string): Head {
  const lines = text.split("\r\n");
  const status = /^HTTP\/1\.([01]) (\d{3})(?: (.*))?$/.exec(lines[0]!);
  if (status === null) {
    throw new TypeError(`not an HTTP/1.x answer: '${lines[0]!.slice(0, 80)}'`);
  }
  const headers: [string, string][] = [];
  let length: number | undefined;
  let chunked = false;
  let close = status[1] === "0";
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(":");
    if (colon <= 0) throw new TypeError(`bad header line in the answer: '${line.slice(0, 80)}'`);
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === "content-length") {
      const n = Number(value);
      if (!/^\d+$/.test(value) || !Number.isSafeInteger(n)) {
        throw new TypeError(`bad content-length in the answer: '${value}'`);
      }
      if (length !== undefined && length !== n) {
        throw new TypeError("two content-lengths in the answer");
      }
      length = n;
    } else if (name === "transfer-encoding") {
      chunked = value.toLowerCase().split(",").some((t) => t.trim() === "chunked");
    } else if (name === "connection") {
      const v = value.toLowerCase();
      if (v.includes("close")) close = true;
      else if (v.includes("keep-alive")) close = false;
    }
    headers.push([name, value]);
  }
  return {
    status: Number(status[2]),
    statusText: status[3] ?? "",
    headers,
    keepAlive: !close,
    length: chunked ? undefined : length,
    chunked,
  };
}

/**
 * `HttpAgent.fetchBytes` through the runtime's `fetch` (the agent's way for
 * what it does not send itself, and the clients' when told to use `fetch`):
 * the answer read through its `Response`, at most `maxBytes` of it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fetchWhole } from "./agent.ts";
 * const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () =>
 *   new Response("abc"));
 * const url = `http://127.0.0.1:${server.addr.port}/`;
 * assert.deepEqual((await fetchWhole(url)).bytes, new TextEncoder().encode("abc"));
 * await assert.rejects(fetchWhole(url, { maxBytes: 2 }), /3 bytes, at most 2 read/);
 * await server.shutdown();
 * ```
 */
export async function fetchWhole(
  input: string | URL,
  init: AgentBytesInit = {},
): Promise<AgentBytes> {
  const url = typeof input === "string" ? new URL(input) : input;
  const max = init.maxBytes ?? MAX_WHOLE_BYTES;
  const res = await fetch(input, fetchInit(init));
  const bytes = new Uint8Array(await res.arrayBuffer());
  if (bytes.byteLength > max) throw tooLong(url, `${bytes.byteLength} bytes`, max);
  return { status: res.status, ok: res.ok, bytes, header: (n) => res.headers.get(n) };
}

/** An answer read whole. */
function bytesAnswer(h: Head, bytes: Uint8Array<ArrayBuffer>): AgentBytes {
  return {
    status: h.status,
    ok: h.status >= 200 && h.status < 300,
    bytes,
    header: (name) => {
      const n = name.toLowerCase();
      return h.headers.find(([k]) => k === n)?.[1] ?? null;
    },
  };
}

/** The pieces of `stream` joined, at most `max` bytes (a `TypeError` past it, the stream cancelled). */
async function readAll(
  stream: ReadableStream<Uint8Array>,
  url: URL,
  max: number,
): Promise<Uint8Array<ArrayBuffer>> {
  const pieces: Uint8Array[] = [];
  let n = 0;
  const reader = stream.getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    n += value.byteLength;
    if (n > max) {
      await reader.cancel();
      throw tooLong(url, `more than ${max} bytes`, max);
    }
    pieces.push(value);
  }
  return pieces.length === 1 ? pieces[0] as Uint8Array<ArrayBuffer> : joinBytes(pieces);
}

/** The failure of an answer (`size` said in words) longer than a caller reads. */
function tooLong(url: URL, size: string, max: number): TypeError {
  return new TypeError(
    `error reading the answer from ${url.origin}${url.pathname}: ${size}, at most ${max} read (maxBytes)`,
  );
}

function answer(h: Head, body: BodyInit | null): Response {
  return new Response(body, {
    status: h.status,
    statusText: h.statusText,
    headers: h.headers,
  });
}

/**
 * `op`, or `signal`'s reason as soon as it aborts; what `op` gives after
 * that goes to `late` (a connection made too late is closed).
 */
function unlessAborted<T>(
  op: Promise<T>,
  signal: AbortSignal | undefined,
  late: (value: T) => void,
): Promise<T> {
  if (signal === undefined) return op;
  return new Promise<T>((resolve, reject) => {
    const stop = () => {
      op.then(late, () => {});
      reject(signal.reason);
    };
    if (signal.aborted) return stop();
    signal.addEventListener("abort", stop, { once: true });
    op.then(resolve, reject).finally(() => signal.removeEventListener("abort", stop));
  });
}

/** Exactly `n` bytes of the answer. */
async function readExact(c: Connection, n: number): Promise<Uint8Array<ArrayBuffer>> {
  const out = new Uint8Array(n);
  let got = Math.min(n, c.end - c.start);
  out.set(c.buf.subarray(c.start, c.start + got));
  c.start += got;
  while (got < n) {
    const r = await c.conn.read(out.subarray(got));
    if (r === null) throw new TypeError("the connection closed inside an answer");
    got += r;
  }
  return out;
}

/**
 * The next bytes of the answer: exactly `max` when they are known to come
 * (`endOk` false: a length or a chunk), else up to `max`, at least one
 * (none at the end). A long piece is read straight into a buffer of its
 * own, filled before it is handed on: a buffer per read, most of it unused,
 * cost more in zeroed memory than the bytes read.
 */
async function readSome(c: Connection, max: number, endOk = false): Promise<Uint8Array> {
  const held = c.end - c.start;
  if (held === 0 && c.pending === undefined && max >= READ_BYTES) {
    const out = new Uint8Array(max);
    let got = 0;
    do {
      const r = await c.conn.read(out.subarray(got));
      if (r === null) {
        if (endOk) return out.subarray(0, got);
        throw new TypeError("the connection closed inside an answer");
      }
      got += r;
    } while (!endOk && got < max);
    return out.subarray(0, got);
  }
  if (held === 0 && !(await c.fill(Infinity))) {
    if (endOk) return new Uint8Array(0);
    throw new TypeError("the connection closed inside an answer");
  }
  const n = Math.min(max, c.end - c.start);
  const out = c.buf.slice(c.start, c.start + n);
  c.start += n;
  return out;
}

/** The next line of the answer, without its CRLF. */
async function readLine(c: Connection, limit: number): Promise<string> {
  for (;;) {
    for (let i = c.start; i + 1 < c.end; i++) {
      if (c.buf[i] === 13 && c.buf[i + 1] === 10) {
        const line = latin1.decode(c.buf.subarray(c.start, i));
        c.start = i + 2;
        return line;
      }
    }
    if (c.end - c.start > limit) throw new TypeError("a line of the answer is too long");
    if (!(await c.fill(Infinity))) throw new TypeError("the connection closed inside an answer");
  }
}

async function readCrlf(c: Connection, limit: number): Promise<void> {
  if ((await readLine(c, limit)) !== "") throw new TypeError("bad chunk end in the answer");
}

/** Where the head in `buf[from:to]` ends (its blank line's CRLF CRLF); -1 when not there yet. */
function headEnd(buf: Uint8Array, from: number, to: number): number {
  for (let i = buf.indexOf(13, from); i >= 0 && i + 3 < to; i = buf.indexOf(13, i + 1)) {
    if (buf[i + 1] === 10 && buf[i + 2] === 13 && buf[i + 3] === 10) return i;
  }
  return -1;
}

/** A network failure as `fetch()` reports one: a `TypeError` naming the origin. */
function networkError(url: URL, e: unknown): TypeError {
  if (e instanceof TypeError && e.message.includes(url.origin)) return e;
  const why = e instanceof Error ? e.message : String(e);
  return new TypeError(`error sending request to ${url.origin}${url.pathname}: ${why}`, {
    cause: e,
  });
}
