/**
 * The HEPnOS client: `DataStore.connect(url)`, then datasets, runs, subruns,
 * events and their products as in HEPnOS's C++ API, over
 * `POST /v1/services/hepnos/<operation>` with msgpack bodies; product
 * bytes travel raw (framed `store_bytes` and `load_bytes`), each runtime
 * sent the products of its own targets straight.
 *
 * @module
 */

import { decode, encode } from "@msgpack/msgpack";
import { errorFromBody, InternalError, UnavailableError } from "../../errors.ts";
import { frame, joinFrames, OCTET_STREAM, unframe } from "../frames.ts";
import { TargetRing } from "../targets.ts";
import { DataSet } from "./items.ts";
import { productTarget } from "./placement.ts";
import type { ProductRead, ProductWrite } from "./store.ts";

/** Where the service's targets are, as `GET /v1/services/<name>` answers. */
interface Placement {
  readonly numTargets: number;
  readonly virtualNodes: number;
  readonly runtimes: readonly { readonly name: string; readonly url: string | null }[];
}

const MSGPACK = "application/msgpack";

/** Options of a connection. */
export interface ConnectOptions {
  /** Bearer token, when the server wants one. */
  readonly token?: string;
  /** Deadline of each request in ms (default 60000). */
  readonly timeoutMs?: number;
  /** The service's name in config (default `hepnos`). */
  readonly service?: string;
}

/**
 * A connection to a HEPnOS service.
 *
 * @example
 * ```ts ignore
 * const store = await DataStore.connect("http://127.0.0.1:7070");
 * const nova = await store.root().createDataSet("nova");
 * const run = await nova.createRun(1n);
 * ```
 */
export class DataStore {
  /** The server's base URL. */
  readonly url: string;
  /** How many targets items and products hash to. */
  readonly numTargets: number;
  /** Whether a second store of a product replaces the first. */
  readonly overwrite: boolean;
  /** The targets, for grouping batched writes as the server places them. */
  readonly ring: TargetRing;
  readonly #service: string;
  readonly #base: string;
  readonly #token: string | undefined;
  readonly #timeoutMs: number;
  /** Each runtime's service base URL, in ring order (the connected one where unknown). */
  readonly #bases: readonly string[];

  private constructor(
    url: string,
    info: { overwrite: boolean; placement: Placement },
    o: ConnectOptions,
  ) {
    this.url = url.replace(/\/+$/, "");
    const p = info.placement;
    this.numTargets = p.numTargets;
    this.overwrite = info.overwrite;
    this.ring = new TargetRing(p.numTargets, {
      virtualNodes: p.virtualNodes,
      runtimes: p.runtimes.map((r) => r.name),
    });
    this.#service = o.service ?? "hepnos";
    this.#base = `${this.url}/v1/services/${this.#service}`;
    this.#bases = p.runtimes.map((r) =>
      r.url === null ? this.#base : `${r.url.replace(/\/+$/, "")}/v1/services/${this.#service}`
    );
    this.#token = o.token;
    this.#timeoutMs = o.timeoutMs ?? 60_000;
  }

  /**
   * Connects, reading the service's overwrite policy and where its targets
   * are (their count, the ring's virtual nodes, each runtime's URL).
   */
  static async connect(url: string, options: ConnectOptions = {}): Promise<DataStore> {
    const one = { numTargets: 1, virtualNodes: 4, runtimes: [{ name: "local", url: null }] };
    const probe = new DataStore(url, { overwrite: false, placement: one }, options);
    const res = await probe.#send(probe.#base, { method: "GET", accept: MSGPACK });
    const info = await probe.#answer<{ overwrite: boolean; placement: Placement }>(res);
    return new DataStore(url, info, options);
  }

  /** The root dataset (path `""`). */
  root(): DataSet {
    return DataSet.root(this);
  }

  /** Calls an operation with a msgpack body; the server's errors arrive as their classes. */
  async call<T>(operation: string, body: unknown): Promise<T> {
    const res = await this.#send(`${this.#base}/${operation}`, {
      method: "POST",
      type: MSGPACK,
      accept: MSGPACK,
      body: encode(body, { ignoreUndefined: true, useBigInt64: true }) as Uint8Array<ArrayBuffer>,
    });
    return await this.#answer<T>(res);
  }

  /**
   * Stores products, their bytes raw (not inside msgpack): one framed
   * request per runtime holding their targets, sent to that runtime
   * straight. Per product, whether it was stored.
   */
  async storeProducts(products: readonly ProductWrite[]): Promise<boolean[]> {
    const out = new Array<boolean>(products.length).fill(false);
    await Promise.all([...this.#byRuntime(products)].map(async ([r, at]) => {
      const body = joinFrames(frame(
        { products: at.map((i) => ({ ...products[i]!, value: undefined })) },
        at.map((i) => products[i]!.value),
      ));
      const res = await this.#sendTo(r, "store_bytes", {
        type: OCTET_STREAM,
        accept: MSGPACK,
        body,
      });
      const { stored } = await this.#answer<{ stored: boolean[] }>(res);
      at.forEach((i, k) => out[i] = stored[k] ?? false);
    }));
    return out;
  }

  /**
   * Loads products (undefined where none is stored), or byte ranges of
   * them: one request per runtime holding their targets, sent to it
   * straight, answered with the bytes raw in one framed body.
   */
  async loadProducts(products: readonly ProductRead[]): Promise<(Uint8Array | undefined)[]> {
    const out = new Array<Uint8Array | undefined>(products.length);
    await Promise.all([...this.#byRuntime(products)].map(async ([r, at]) => {
      const body = encode({ products: at.map((i) => products[i]!) }, {
        ignoreUndefined: true,
      }) as Uint8Array<ArrayBuffer>;
      const res = await this.#sendTo(r, "load_bytes", {
        type: MSGPACK,
        // Errors come back as msgpack.
        accept: `${OCTET_STREAM}, ${MSGPACK}`,
        body,
      });
      if (!res.ok) await this.#answer(res);
      const { parts } = unframe(new Uint8Array(await res.arrayBuffer()));
      if (parts.length !== at.length) {
        throw new InternalError(`HEPnOS answered ${parts.length} products, expected ${at.length}`);
      }
      at.forEach((i, k) => out[i] = parts[k] ?? undefined);
    }));
    return out;
  }

  /** Products' places in the input by the runtime (index in ring order) holding their targets. */
  #byRuntime(products: readonly { readonly item: Uint8Array }[]): Map<number, number[]> {
    const groups = new Map<number, number[]>();
    const runtimes = this.ring.runtimes.length;
    products.forEach((p, i) => {
      const r = productTarget(p.item, this.ring) % runtimes;
      const g = groups.get(r);
      if (g === undefined) groups.set(r, [i]);
      else g.push(i);
    });
    return groups;
  }

  /**
   * Sends to the runtime at `runtime` in ring order; when it does not
   * answer, to the runtime this store connected to, which forwards the
   * work or names the runtime that is down.
   */
  async #sendTo(
    runtime: number,
    operation: string,
    init: { type: string; accept: string; body: Uint8Array<ArrayBuffer> },
  ): Promise<Response> {
    const base = this.#bases[runtime] ?? this.#base;
    if (base === this.#base) {
      return await this.#send(`${base}/${operation}`, { method: "POST", ...init });
    }
    try {
      return await this.#send(`${base}/${operation}`, { method: "POST", ...init });
    } catch (e) {
      // Only a connection refused is retried: the request never arrived.
      // A timeout may have stored, and is not sent twice.
      if (!(e instanceof UnavailableError) || !(e.cause instanceof TypeError)) throw e;
      return await this.#send(`${this.#base}/${operation}`, { method: "POST", ...init });
    }
  }

  async #send(
    url: string,
    init: { method: string; type?: string; accept: string; body?: Uint8Array<ArrayBuffer> },
  ): Promise<Response> {
    try {
      return await fetch(url, {
        method: init.method,
        headers: {
          ...(init.type === undefined ? {} : { "content-type": init.type }),
          accept: init.accept,
          ...(this.#token === undefined ? {} : { authorization: `Bearer ${this.#token}` }),
        },
        ...(init.body === undefined ? {} : { body: init.body }),
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (e) {
      throw new UnavailableError(
        `HEPnOS service at ${new URL(url).origin} does not answer: ${(e as Error).message}`,
        { cause: e },
      );
    }
  }

  async #answer<T>(res: Response): Promise<T> {
    const bytes = new Uint8Array(await res.arrayBuffer());
    const data = bytes.length === 0 ? null : decode(bytes);
    if (!res.ok) {
      throw errorFromBody((data as { error?: unknown } | null)?.error) ??
        new InternalError(`HEPnOS service answered ${res.status}`, {
          fields: { status: res.status },
        });
    }
    return data as T;
  }
}
