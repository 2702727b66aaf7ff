/**
 * The HEPnOS client: `DataStore.connect(url)`, then datasets, runs, subruns,
 * events and their products as in HEPnOS's C++ API, over
 * `POST /v1/services/hepnos/<operation>` with msgpack bodies; product
 * bytes travel raw (framed `store_bytes` and `load_bytes`), each runtime
 * sent the products of its own targets straight.
 *
 * @module
 */

import { encode } from "@msgpack/msgpack";
import { InternalError } from "../../errors.ts";
import { frame, OCTET_STREAM, unframe } from "../frames.ts";
import { hash32 } from "../hash.ts";
import { MSGPACK, ServiceClient } from "../service_client.ts";
import type { TargetRing } from "../targets.ts";
import { DataSet } from "./items.ts";
import { productTarget } from "./placement.ts";
import type { ProductRead, ProductWrite } from "./store.ts";

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
   * straight. Per product, whether it was stored.
   */
  async storeProducts(products: readonly ProductWrite[]): Promise<boolean[]> {
    const out = new Array<boolean>(products.length).fill(false);
    await Promise.all([...this.#byRuntime(products)].map(async ([r, at]) => {
      // The pieces as they are: joined only if sent in the request, not staged.
      const body = frame(
        {
          products: at.map((i) => {
            const p = products[i]!;
            return { item: p.item, label: p.label, type: p.type };
          }),
        },
        at.map((i) => products[i]!.value),
      );
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
      const body = encode({ products: at.map((i) => products[i]!) }, {
        ignoreUndefined: true,
      }) as Uint8Array<ArrayBuffer>;
      const res = await this.#client.sendTo(r, "load_bytes", {
        type: MSGPACK,
        // Errors come back as msgpack.
        accept: `${OCTET_STREAM}, ${MSGPACK}`,
        body,
      });
      if (!res.ok) await this.#client.answer(res);
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
