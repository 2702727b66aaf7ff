/**
 * The HTTP side of a service's client: the placement read at connect (how
 * many targets, which runtime holds each), operations called with msgpack
 * bodies, and raw bodies sent to the runtime of a target straight, with the
 * server's errors raised as their classes.
 *
 * @module
 */

import { decode, encode } from "@msgpack/msgpack";
import { BusyError, errorFromBody, InternalError, UnavailableError } from "../errors.ts";
import { type Frames, OCTET_STREAM, unframe } from "./frames.ts";
import type { MetaLease } from "./meta.ts";
import { TargetRing } from "./targets.ts";
import { msgpackBody } from "../http/msgpack_body.ts";
import {
  type AgentBytes,
  type AgentRequestInit,
  defaultAgent,
  fetchInit,
  fetchWhole,
  type HttpAgent,
} from "../http/agent.ts";

/** Where a service's targets are, as `GET /v1/services/<name>` answers. */
interface Placement {
  readonly numTargets: number;
  readonly virtualNodes: number;
  readonly runtimes: readonly { readonly name: string; readonly url: string | null }[];
}

/** Values a runtime leased for this process, as it read them (`ServiceClient.readLeased`). */
export interface LeasedValues {
  /**
   * Per value: its bytes (sent in the answer, or read from its leased
   * file); undefined where none is stored or where it is held elsewhere.
   */
  readonly values: (Uint8Array | undefined)[];
  /** Indices of the values held elsewhere (the answer gave their size alone): load them over HTTP. */
  readonly elsewhere: number[];
}

/** The content type of msgpack bodies. */
export const MSGPACK = "application/msgpack";

/** Options of a service client. */
export interface ServiceClientOptions {
  /** Bearer token, when the server wants one. */
  readonly token?: string;
  /** Deadline of each request in ms (default 60000). */
  readonly timeoutMs?: number;
  /**
   * Whether bodies of `STAGE_FROM_BYTES` or more go through a file on the
   * shm tier of the runtime's node when this process is on that node and
   * may write there (otherwise, or when that fails, they travel in the
   * request; a runtime where it failed once is not asked again). Default
   * true.
   */
  readonly stage?: boolean;
  /**
   * The HTTP client its requests go through (default: the process's
   * shared `defaultAgent`, keep-alive connections pooled per runtime;
   * src/http/agent.ts). `fetch` sends them with Deno's `fetch()`.
   */
  readonly agent?: HttpAgent | "fetch";
}

/**
 * Bodies from this size on go through the runtime's shm tier when they can.
 * Measured on the 2-core VM (bench/flamestore_bench.ts): FlameStore saves
 * staged and stored from the file (never read into the runtime) ran at
 * 0.59-0.63 GB/s against 0.26-0.30 sent, at 16 and 64 MiB; a raw body
 * staged then read into the runtime was mixed (16 MiB: 0.22-0.42 against
 * 0.20-0.28); below this size staging lost (1 MiB Mobject writes 0.15-0.18
 * GB/s staged against 0.24-0.27 sent).
 */
export const STAGE_FROM_BYTES = 8 << 20;

/** The header naming the stage whose file holds a request's raw body. */
export const STAGE_HEADER = "strata-stage";

/** A request's body and the types it is sent and answered in. */
export interface ServiceRequest {
  /** Content type of `body`. */
  readonly type: string;
  /** What the answer may be (errors come back as msgpack when it names msgpack). */
  readonly accept: string;
  /**
   * The body, or its pieces in order (a framed batch's header and values):
   * joined only when sent in the request, written one after the other
   * when staged.
   */
  readonly body: Uint8Array<ArrayBuffer> | readonly Uint8Array<ArrayBuffer>[];
}

/**
 * A connection to one service of a Strata server.
 *
 * @example
 * ```ts ignore
 * const c = await ServiceClient.connect("http://127.0.0.1:7070", "notes");
 * await c.call("put", { name: "a", text: "hello" });
 * ```
 */
export class ServiceClient {
  /** The server's base URL. */
  readonly url: string;
  /** The service's name. */
  readonly service: string;
  /** The targets and the runtimes holding them. */
  readonly ring: TargetRing;
  /** What `GET /v1/services/<name>` answered (the service's own settings, and `placement`). */
  readonly info: Readonly<Record<string, unknown>>;
  readonly #base: string;
  readonly #token: string | undefined;
  readonly #timeoutMs: number;
  readonly #stage: boolean;
  readonly #fetch: (url: string, init: AgentRequestInit) => Promise<Response>;
  readonly #fetchBytes: (url: string, init: AgentRequestInit) => Promise<AgentBytes>;
  /** Bases whose runtime's files this process cannot read in place. */
  readonly #noRead = new Set<string>();
  /** Bases whose runtime this process cannot stage bodies on. */
  readonly #noStage = new Set<string>();
  /** Each runtime's service base URL, in ring order (the connected one where unknown). */
  readonly #bases: readonly string[];

  private constructor(
    url: string,
    service: string,
    info: Record<string, unknown>,
    o: ServiceClientOptions,
  ) {
    this.url = url.replace(/\/+$/, "");
    this.service = service;
    this.info = info;
    const p = (info.placement as Placement | undefined) ??
      { numTargets: 1, virtualNodes: 4, runtimes: [{ name: "local", url: null }] };
    this.ring = new TargetRing(p.numTargets, {
      virtualNodes: p.virtualNodes,
      runtimes: p.runtimes.map((r) => r.name),
    });
    this.#base = `${this.url}/v1/services/${service}`;
    this.#bases = p.runtimes.map((r) =>
      r.url === null ? this.#base : `${r.url.replace(/\/+$/, "")}/v1/services/${service}`
    );
    this.#token = o.token;
    this.#timeoutMs = o.timeoutMs ?? 60_000;
    this.#stage = o.stage ?? true;
    const agent = o.agent ?? defaultAgent;
    // fetch(): the pieces joined, the deadline a timer of its own.
    this.#fetch = agent === "fetch"
      ? (u, init) => fetch(u, fetchInit(init))
      : (u, init) => agent.fetch(u, init);
    this.#fetchBytes = agent === "fetch"
      ? (u, init) => fetchWhole(u, init)
      : (u, init) => agent.fetchBytes(u, init);
  }

  /** Connects, reading the service's settings and where its targets are. */
  static async connect(
    url: string,
    service: string,
    options: ServiceClientOptions = {},
  ): Promise<ServiceClient> {
    const probe = new ServiceClient(url, service, {}, options);
    const res = await probe.#send(probe.#base, { method: "GET", accept: MSGPACK });
    return new ServiceClient(url, service, await probe.answer(res), options);
  }

  /**
   * Calls an operation with a msgpack body, on the runtime at `runtime` in
   * ring order when given (as `sendTo` does: the connected server when that
   * runtime refuses the connection); the server's errors arrive as their
   * classes.
   */
  async call<T>(operation: string, body: unknown, runtime?: number): Promise<T> {
    const init = {
      type: MSGPACK,
      accept: MSGPACK,
      body: msgpackBody(body, { ignoreUndefined: true, useBigInt64: true }),
    };
    const res = runtime === undefined
      ? await this.#send(`${this.#base}/${operation}`, { method: "POST", ...init })
      : await this.sendTo(runtime, operation, init);
    return await this.answer<T>(res);
  }

  /** Sends a request to the server this client connected to. */
  post(operation: string, init: ServiceRequest): Promise<Response> {
    return this.#post(this.#base, operation, init, this.#send);
  }

  /**
   * Writes `bytes` into a stage on the shm tier of the runtime at `runtime`
   * in ring order, for an operation that takes a stage instead of a body
   * (FlameStore's `save {stage}`): the stage's id, or undefined when this
   * client does not stage (option `stage`), the bytes are under
   * `STAGE_FROM_BYTES`, or it is not on that runtime's node.
   */
  stageOn(runtime: number, bytes: Uint8Array): Promise<string | undefined> {
    return this.#stageBody(this.#bases[runtime] ?? this.#base, bytes);
  }

  /**
   * Whether this client reads files of the runtime at `runtime` in ring
   * order in place (leased on its shm tier): it stages bodies (option
   * `stage`), and reading them has not failed there (not its node, no
   * permission).
   */
  readsOn(runtime: number): boolean {
    return this.#stage && !this.#noRead.has(this.#bases[runtime] ?? this.#base);
  }

  /** Stops reading files of the runtime at `runtime` in place (`readsOn`). */
  cannotReadOn(runtime: number): void {
    this.#noRead.add(this.#bases[runtime] ?? this.#base);
  }

  /**
   * Calls an operation that leases files on the node of the runtime at
   * `runtime` (`call`); undefined when every lease of that node is taken
   * (`BusyError`): load over HTTP this time.
   */
  async callLeasing<T>(operation: string, body: unknown, runtime: number): Promise<T | undefined> {
    try {
      return await this.call<T>(operation, body, runtime);
    } catch (e) {
      if (e instanceof BusyError) return undefined;
      throw e;
    }
  }

  /**
   * Reads values the runtime at `runtime` in ring order answered for
   * reading in place (`ServiceMeta.leaseMany`, through an operation of the
   * service): ranges of files leased on its node's shm tier are read from
   * those files, small values come in the answer; then it releases the
   * leases, read or not. Undefined when this process cannot read the files
   * (another node, no permission): it then stops reading in place on that
   * runtime, as it does after an answer that named values held elsewhere and
   * leased no file (no shm tier there, or values in memory).
   *
   * @example
   * ```ts ignore
   * const c = await ServiceClient.connect("http://127.0.0.1:7070", "hepnos");
   * const { products } = await c.call<{ products: (MetaLease | null)[] }>(
   *   "lease_products", { products: [{ item, label: "p", type: "bytes" }] }, 0);
   * const got = await c.readLeased(0, products); // undefined: load them over HTTP
   * ```
   */
  async readLeased(
    runtime: number,
    found: readonly (MetaLease | null | undefined)[],
  ): Promise<LeasedValues | undefined> {
    const leases = new Set<string>();
    let held = false;
    for (const f of found) {
      if (f === null || f === undefined || "bytes" in f) continue;
      if ("lease" in f) leases.add(f.lease);
      else held = true;
    }
    // Values held, none in files of its node (no shm tier, or values in memory): over HTTP from now on.
    if (held && leases.size === 0) this.cannotReadOn(runtime);
    const files = new Map<string, Deno.FsFile>();
    try {
      const values = new Array<Uint8Array | undefined>(found.length);
      const elsewhere: number[] = [];
      for (let k = 0; k < found.length; k++) {
        const f = found[k];
        if (f === null || f === undefined) continue;
        if ("bytes" in f) values[k] = f.bytes;
        else if (!("path" in f)) elsewhere.push(k);
        else {
          let file = files.get(f.path);
          if (file === undefined) {
            // Never a permission prompt: a process not allowed to read there loads over HTTP.
            if (Deno.permissions.querySync({ name: "read", path: f.path }).state !== "granted") {
              throw new Deno.errors.PermissionDenied(f.path);
            }
            file = await Deno.open(f.path);
            files.set(f.path, file);
          }
          values[k] = await readAt(file, f.at, f.size);
        }
      }
      return { values, elsewhere };
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound || e instanceof Deno.errors.PermissionDenied)) {
        throw e;
      }
      // The leased files are not this process's to read: over HTTP from now on.
      this.cannotReadOn(runtime);
      return undefined;
    } finally {
      for (const file of files.values()) file.close();
      await this.releaseLeases(runtime, leases);
    }
  }

  /**
   * Releases leases the runtime at `runtime` in ring order granted
   * (`DELETE /v1/leases/<lease>`); one already ended is no error, nor is a
   * runtime that does not answer (the connected server forwarded the
   * request that took the lease): its leases end at their deadline.
   */
  async releaseLeases(runtime: number, leases: Iterable<string>): Promise<void> {
    const origin = new URL(this.#bases[runtime] ?? this.#base).origin;
    await Promise.all([...leases].map(async (lease) => {
      let res: Response;
      try {
        res = await this.#send(`${origin}/v1/leases/${encodeURIComponent(lease)}`, {
          method: "DELETE",
          accept: MSGPACK,
        });
      } catch (e) {
        if (e instanceof UnavailableError) return;
        throw e;
      }
      if (!res.ok && res.status !== 404) await this.answer(res);
      else await res.body?.cancel();
    }));
  }

  /** A POST to `base`, its raw body staged on the runtime's shm tier when it can be. */
  async #post<A>(
    base: string,
    operation: string,
    init: ServiceRequest,
    send: Send<A>,
  ): Promise<A> {
    const staged = init.type === OCTET_STREAM ? await this.#stageBody(base, init.body) : undefined;
    if (staged === undefined) {
      return await send(`${base}/${operation}`, { method: "POST", ...init });
    }
    return await send(`${base}/${operation}`, {
      method: "POST",
      type: init.type,
      accept: init.accept,
      body: new Uint8Array(0),
      headers: { [STAGE_HEADER]: staged },
    });
  }

  /**
   * Writes a large raw body into a stage of `base`'s runtime, when this
   * process is on its node and may write there: the stage's id, or
   * undefined (send the body in the request). The stage's file holds its
   * id until written: reading it back tells this node's file from another
   * node's at the same path.
   */
  async #stageBody(
    base: string,
    body: Uint8Array | readonly Uint8Array[],
  ): Promise<string | undefined> {
    const pieces = body instanceof Uint8Array ? [body] : body;
    const byteLength = pieces.reduce((n, p) => n + p.byteLength, 0);
    if (!this.#stage || byteLength < STAGE_FROM_BYTES || this.#noStage.has(base)) {
      return undefined;
    }
    let stage: { stage: string; path: string };
    try {
      const res = await this.#send(`${base}/stages`, {
        method: "POST",
        type: MSGPACK,
        accept: MSGPACK,
        body: encode({ byteLength }) as Uint8Array<ArrayBuffer>,
      });
      if (!res.ok) {
        await res.body?.cancel();
        this.#noStage.add(base);
        return undefined;
      }
      stage = await this.answer(res);
    } catch {
      this.#noStage.add(base);
      return undefined;
    }
    try {
      // Never a permission prompt: a process not allowed to read and write
      // there sends its bodies in the request.
      const may = (name: "read" | "write") =>
        Deno.permissions.querySync({ name, path: stage.path }).state === "granted";
      if (!may("read") || !may("write")) throw new Error("not allowed");
      const mark = await Deno.readFile(stage.path);
      if (new TextDecoder().decode(mark) !== stage.stage) throw new Error("another node's file");
      // The pieces one after the other, never joined in this process first.
      using file = await Deno.open(stage.path, { write: true, truncate: true });
      for (const p of pieces) {
        for (let at = 0; at < p.byteLength;) at += await file.write(p.subarray(at));
      }
      return stage.stage;
    } catch {
      this.#noStage.add(base);
      await this.#send(`${base}/stages/${encodeURIComponent(stage.stage)}`, {
        method: "DELETE",
        accept: MSGPACK,
      }).then((r) => r.body?.cancel(), () => {});
      return undefined;
    }
  }

  /** The index, in ring order, of the runtime holding `target`. */
  runtimeOf(target: number): number {
    return this.ring.runtimes.indexOf(this.ring.runtimeOf(target));
  }

  /**
   * Sends a request to the runtime at `runtime` in ring order; when it does
   * not answer, to the server this client connected to, which forwards the
   * work or names the runtime that is down.
   */
  sendTo(runtime: number, operation: string, init: ServiceRequest): Promise<Response> {
    return this.#sendTo(runtime, operation, init, this.#send);
  }

  /**
   * `sendTo`, its answer read whole without a `Response`
   * (`HttpAgent.fetchBytes`): a framed answer of large values comes into
   * one buffer of its length, a copy fewer.
   */
  sendBytesTo(runtime: number, operation: string, init: ServiceRequest): Promise<AgentBytes> {
    return this.#sendTo(runtime, operation, init, this.#sendBytes);
  }

  /**
   * Calls an operation that answers a framed body (`frames.ts`) on the
   * runtime at `runtime` in ring order, as `sendBytesTo` sends it: its
   * header and parts (views of the answer, read whole); errors, answered
   * as msgpack, raised as their classes.
   */
  async framed(
    runtime: number,
    operation: string,
    init: Omit<ServiceRequest, "accept">,
  ): Promise<Frames> {
    const res = await this.sendBytesTo(runtime, operation, {
      ...init,
      accept: `${OCTET_STREAM}, ${MSGPACK}`,
    });
    if (!res.ok) this.answerBytes(res);
    return unframe(res.bytes);
  }

  async #sendTo<A>(
    runtime: number,
    operation: string,
    init: ServiceRequest,
    send: Send<A>,
  ): Promise<A> {
    const base = this.#bases[runtime] ?? this.#base;
    if (base === this.#base) return await this.#post(base, operation, init, send);
    try {
      return await this.#post(base, operation, init, send);
    } catch (e) {
      // Only a connection refused is retried: the request never arrived.
      // A timeout may have stored, and is not sent twice.
      if (!(e instanceof UnavailableError) || !(e.cause instanceof TypeError)) throw e;
      return await this.#post(this.#base, operation, init, send);
    }
  }

  /** A msgpack answer's value; an error answer raised as its class. */
  async answer<T>(res: Response): Promise<T> {
    const bytes = new Uint8Array(await res.arrayBuffer());
    return this.answerBytes<T>({ ok: res.ok, status: res.status, bytes });
  }

  /** `answer` of an answer read whole (`sendBytesTo`). */
  answerBytes<T>(a: Pick<AgentBytes, "ok" | "status" | "bytes">): T {
    const { bytes, status } = a;
    const data = bytes.length === 0 ? null : decode(bytes);
    if (!a.ok) {
      throw errorFromBody((data as { error?: unknown } | null)?.error) ??
        new InternalError(`Service '${this.service}' answered ${status}`, {
          fields: { status },
        });
    }
    return data as T;
  }

  /** Sends a request, answered as a `Response`. */
  readonly #send: Send<Response> = (url, init) => this.#exchange(url, init, this.#fetch);

  /** Sends a request, its answer read whole (`HttpAgent.fetchBytes`). */
  readonly #sendBytes: Send<AgentBytes> = (url, init) =>
    this.#exchange(url, init, this.#fetchBytes);

  /** A request through `fetchVia` with the client's headers and deadline; `UnavailableError` when it fails. */
  async #exchange<A>(
    url: string,
    init: SendInit,
    fetchVia: (url: string, init: AgentRequestInit) => Promise<A>,
  ): Promise<A> {
    const { body } = init;
    try {
      return await fetchVia(url, {
        method: init.method,
        headers: {
          ...init.headers,
          ...(init.type === undefined ? {} : { "content-type": init.type }),
          accept: init.accept,
          ...(this.#token === undefined ? {} : { authorization: `Bearer ${this.#token}` }),
        },
        ...(body === undefined ? {} : body instanceof Uint8Array ? { body } : { pieces: body }),
        timeoutMs: this.#timeoutMs,
      });
    } catch (e) {
      throw new UnavailableError(
        `Service '${this.service}' at ${new URL(url).origin} does not answer: ${
          (e as Error).message
        }`,
        { cause: e },
      );
    }
  }
}

/** What a request to a service sends. */
interface SendInit {
  readonly method: string;
  readonly type?: string;
  readonly accept: string;
  readonly body?: Uint8Array<ArrayBuffer> | readonly Uint8Array<ArrayBuffer>[];
  readonly headers?: Record<string, string>;
}

/** Sends a request to a service and answers it as a `Response` or read whole. */
type Send<A> = (url: string, init: SendInit) => Promise<A>;

/** `size` bytes of `file` from `at`; `NotFound` when the file is shorter (not the leased one). */
async function readAt(file: Deno.FsFile, at: number, size: number): Promise<Uint8Array> {
  const out = new Uint8Array(size);
  await file.seek(at, Deno.SeekMode.Start);
  for (let n = 0; n < size;) {
    const got = await file.read(out.subarray(n));
    if (got === null) throw new Deno.errors.NotFound(`the file ends before byte ${at + size}`);
    n += got;
  }
  return out;
}
