/**
 * The HEPnOS client: `DataStore.connect(url)`, then datasets, runs, subruns,
 * events and their products as in HEPnOS's C++ API, over
 * `POST /v1/services/hepnos/<operation>` with msgpack bodies.
 *
 * @module
 */

import { decode, encode } from "@msgpack/msgpack";
import { errorFromBody, InternalError, UnavailableError } from "../../errors.ts";
import { TargetRing } from "../targets.ts";
import { DataSet } from "./items.ts";

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
  readonly #base: string;
  readonly #token: string | undefined;
  readonly #timeoutMs: number;

  private constructor(
    url: string,
    info: { numTargets: number; overwrite: boolean },
    o: ConnectOptions,
  ) {
    this.url = url.replace(/\/+$/, "");
    this.numTargets = info.numTargets;
    this.overwrite = info.overwrite;
    this.ring = new TargetRing(info.numTargets);
    this.#base = `${this.url}/v1/services/${o.service ?? "hepnos"}`;
    this.#token = o.token;
    this.#timeoutMs = o.timeoutMs ?? 60_000;
  }

  /** Connects, reading the service's target count and overwrite policy. */
  static async connect(url: string, options: ConnectOptions = {}): Promise<DataStore> {
    const probe = new DataStore(url, { numTargets: 1, overwrite: false }, options);
    const info = await probe.call<{ numTargets: number; overwrite: boolean }>("info", {});
    return new DataStore(url, info, options);
  }

  /** The root dataset (path `""`). */
  root(): DataSet {
    return DataSet.root(this);
  }

  /** Calls an operation with a msgpack body; the server's errors arrive as their classes. */
  async call<T>(operation: string, body: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${this.#base}/${operation}`, {
        method: "POST",
        headers: {
          "content-type": "application/msgpack",
          accept: "application/msgpack",
          ...(this.#token === undefined ? {} : { authorization: `Bearer ${this.#token}` }),
        },
        body: encode(body, { ignoreUndefined: true, useBigInt64: true }) as Uint8Array<ArrayBuffer>,
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (e) {
      throw new UnavailableError(
        `HEPnOS service at ${this.url} does not answer: ${(e as Error).message}`,
        {
          cause: e,
        },
      );
    }
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
