/**
 * The HEPnOS client: `DataStore.connect(url)`, then datasets, runs, subruns,
 * events and their products as in HEPnOS's C++ API, over
 * `POST /v1/services/hepnos/<operation>` with msgpack bodies; product
 * bytes travel raw (framed `store_bytes` and `load_bytes`), each runtime
 * sent the products of its own targets straight.
 *
 * @module
 */

import { BusyError, InternalError } from "../../errors.ts";
import { frame, type Frames, OCTET_STREAM } from "../frames.ts";
import { hash32 } from "../hash.ts";
import { MSGPACK, ServiceClient, STAGE_FROM_BYTES } from "../service_client.ts";
import type { MetaLease } from "../meta.ts";
import type { TargetRing } from "../targets.ts";
import { DataSet } from "./items.ts";
import { productTarget } from "./placement.ts";
import { productListBody, productListPieces } from "./product_list.ts";
import type { ProductRead, ProductWrite } from "./store.ts";
import type { HttpAgent } from "../../http/agent.ts";

/** Options of a connection. */
export interface ConnectOptions {
  /** Bearer token, when the server wants one. */
  readonly token?: string;
  /** Deadline of each request in ms (default 60000). */
  readonly timeoutMs?: number;
  /** The service's name in config (default `hepnos`). */
  readonly service?: string;
  /** Stage large raw bodies through the runtime's shm tier (`ServiceClientOptions.stage`). */
  readonly stage?: boolean;
  /** The HTTP client requests go through (`ServiceClientOptions.agent`). */
  readonly agent?: HttpAgent | "fetch";
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
  readonly #client: ServiceClient;

  private constructor(client: ServiceClient) {
    this.#client = client;
    this.url = client.url;
    this.ring = client.ring;
    this.numTargets = client.ring.numTargets;
    this.overwrite = client.info.overwrite === true;
  }

  /**
   * Connects, reading the service's overwrite policy and where its targets
   * are (their count, the ring's virtual nodes, each runtime's URL).
   */
  static async connect(url: string, options: ConnectOptions = {}): Promise<DataStore> {
    const { service, ...o } = options;
    return new DataStore(await ServiceClient.connect(url, service ?? "hepnos", o));
  }

  /** The root dataset (path `""`). */
  root(): DataSet {
    return DataSet.root(this);
  }

  /**
   * Calls an operation with a msgpack body (on the runtime at `runtime` in
   * ring order when given); the server's errors arrive as their classes.
   */
  call<T>(operation: string, body: unknown, runtime?: number): Promise<T> {
    return this.#client.call<T>(operation, body, runtime);
  }

  /** The runtime (index in ring order) of the target `key` hashes to. */
  runtimeOfKey(key: Uint8Array): number {
    return this.#client.runtimeOf(this.ring.targetOf(hash32(key)));
  }

  /**
   * Stores products, their bytes raw (not inside msgpack): one framed
   * request per runtime holding their targets, sent to that runtime
   * straight. Per product, whether it was stored. A batch sent in the
   * request names its products with a product list (each label and type
   * once); one large enough to be staged on the runtime's node
   * (`STAGE_FROM_BYTES`) names them in its header, which is all the
   * runtime reads of a staged body to route and store it.
   */
  async storeProducts(products: readonly ProductWrite[]): Promise<boolean[]> {
    const out = new Array<boolean>(products.length).fill(false);
    await Promise.all([...this.#byRuntime(products)].map(async ([r, at]) => {
      const values = at.map((i) => products[i]!.value);
      // The pieces as they are: joined only if sent in the request, not staged.
      const list = productListPieces(at.map((i) => products[i]!));
      let body = frame(list.header, [...list.parts, ...values]);
      let bytes = 0;
      for (const piece of body) bytes += piece.byteLength;
      // A body the client may stage names its products in its header.
      if (bytes >= STAGE_FROM_BYTES) {
        body = frame(
          {
            products: at.map((i) => {
              const p = products[i]!;
              return { item: p.item, label: p.label, type: p.type };
            }),
          },
          values,
        );
      }
      const res = await this.#client.sendTo(r, "store_bytes", {
        type: OCTET_STREAM,
        accept: MSGPACK,
        body,
      });
      const { stored } = await this.#client.answer<{ stored: boolean[] }>(res);
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
      const read = this.#client.readsOn(r) ? await this.#readInPlace(r, at, products) : undefined;
      const got = read ?? await this.#loadBytes(r, at, products);
      at.forEach((i, k) => out[i] = got[k]);
    }));
    return out;
  }

  /**
   * Loads products `at` of `products` from the runtime at `r`, once it
   * leased the files holding them on its node's shm tier, by reading those
   * files in place (no bytes cross HTTP; small products come in the answer,
   * those held elsewhere with `load_bytes`), then releasing the leases.
   * Undefined when this process cannot read them (another node, no
   * permission): it then stops trying that runtime, as it does after an
   * answer that named products held elsewhere and leased no file (no shm
   * tier there, or products in memory); an answer of small products alone
   * (their bytes in it) says nothing of the runtime's files.
   */
  async #readInPlace(
    r: number,
    at: readonly number[],
    products: readonly ProductRead[],
  ): Promise<(Uint8Array | undefined)[] | undefined> {
    const found = await this.#leaseBytes(r, at, products);
    const got = found && await this.#client.readLeased(r, found);
    if (got === undefined) return undefined;
    const { values, elsewhere } = got;
    if (elsewhere.length > 0) {
      const loaded = await this.#loadBytes(r, elsewhere.map((k) => at[k]!), products);
      elsewhere.forEach((k, j) => values[k] = loaded[j]);
    }
    return values;
  }

  /**
   * Leases products `at` of `products` on the runtime at `r` (`lease_bytes`,
   * a framed list in, framed leases out): per product, null (none stored),
   * its bytes, a range of a leased file or its size (held elsewhere).
   * Undefined when every lease of that node is taken: load over HTTP.
   */
  async #leaseBytes(
    r: number,
    at: readonly number[],
    products: readonly ProductRead[],
  ): Promise<(MetaLease | null)[] | undefined> {
    let answer: Frames;
    try {
      answer = await this.#client.framed(r, "lease_bytes", {
        type: OCTET_STREAM,
        body: productListBody(at.map((i) => products[i]!)),
      });
    } catch (e) {
      if (e instanceof BusyError) return undefined;
      throw e;
    }
    const { header, parts } = answer;
    const leases = header.leases as (MetaLease | null)[] | undefined;
    if (!Array.isArray(leases) || leases.length !== at.length || parts.length !== at.length) {
      throw new InternalError(
        `HEPnOS answered ${parts.length} leases, expected ${at.length}`,
      );
    }
    return leases.map((l, k) => {
      const bytes = parts[k];
      return bytes === null || bytes === undefined ? l : { bytes };
    });
  }

  /** Products `at` of `products`, in that order, from the runtime at `r` in a framed answer. */
  async #loadBytes(
    r: number,
    at: readonly number[],
    products: readonly ProductRead[],
  ): Promise<(Uint8Array | undefined)[]> {
    // Read whole, without a `Response`: 1 MiB products come into one buffer of the answer's length.
    const { parts } = await this.#client.framed(r, "load_bytes", {
      type: OCTET_STREAM,
      body: productListBody(at.map((i) => products[i]!)),
    });
    if (parts.length !== at.length) {
      throw new InternalError(`HEPnOS answered ${parts.length} products, expected ${at.length}`);
    }
    return parts.map((p) => p ?? undefined);
  }

  /** Products' places in the input by the runtime (index in ring order) holding their targets. */
  #byRuntime(products: readonly { readonly item: Uint8Array }[]): Map<number, number[]> {
    const groups = new Map<number, number[]>();
    const runtimes = this.ring.runtimes.length;
    // One runtime holds every target: no hashing.
    if (runtimes === 1) return groups.set(0, [...products.keys()]);
    products.forEach((p, i) => {
      const r = productTarget(p.item, this.ring) % runtimes;
      const g = groups.get(r);
      if (g === undefined) groups.set(r, [i]);
      else g.push(i);
    });
    return groups;
  }
}
