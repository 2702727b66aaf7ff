/**
 * The deployments a runtime reads: versions and sources kept by the name
 * server that keeps functions, fetched over HTTP and cached (versions are
 * immutable, so a version is fetched once; aliases move, so they are asked
 * again after a second).
 *
 * @module
 */

import { controlCall } from "../cluster/control_call.ts";
import { NotFoundError } from "../errors.ts";
import type { FunctionLookup } from "./service.ts";
import type { FunctionRecord, VersionRecord } from "./store.ts";

/** How long a function's aliases are reused, in ms. */
const ALIAS_MS = 1000;
/** Versions (with their sources) kept. */
const VERSIONS_KEPT = 256;

/**
 * Default deadline of a call to the name server, ms: past it the call fails
 * with `UnavailableError` naming the name server (a call left waiting would
 * hold every later invocation of the same version, which share it).
 */
export const CALL_TIMEOUT_MS = 60_000;

interface Described extends FunctionRecord {
  readonly aliases: Record<string, number>;
}

/**
 * `FunctionLookup` over the HTTP API of the name server that keeps functions.
 *
 * @example
 * ```ts ignore
 * import { FunctionService } from "./service.ts";
 * import { RemoteFunctions } from "./remote_functions.ts";
 * const lookup = new RemoteFunctions({ url: "http://127.0.0.1:7000" });
 * const functions = new FunctionService({ lookup, catalog: names, runtime });
 * ```
 */
export class RemoteFunctions implements FunctionLookup {
  readonly #url: string;
  readonly #token: string | undefined;
  readonly #timeoutMs: number;
  readonly #described = new Map<string, { at: number; value: Promise<Described | undefined> }>();
  readonly #versions = new Map<string, Promise<VersionRecord & { source: string }>>();
  readonly #sources = new Map<string, string>();

  /** A reader of the functions kept at `url`. */
  constructor(
    options: {
      readonly url: string;
      readonly token?: string;
      /** Deadline of each call to the name server, ms (default `CALL_TIMEOUT_MS`). */
      readonly timeoutMs?: number;
    },
  ) {
    this.#url = options.url.replace(/\/+$/, "");
    this.#token = options.token;
    this.#timeoutMs = options.timeoutMs ?? CALL_TIMEOUT_MS;
  }

  /** A function, or undefined. */
  async getFunction(name: string): Promise<FunctionRecord | undefined> {
    const d = await this.#describe(name);
    return d === undefined ? undefined : { name: d.name, latest: d.latest, createdAt: d.createdAt };
  }

  /** A function's aliases (none for an unknown function). */
  async aliases(name: string): Promise<Record<string, number>> {
    return (await this.#describe(name))?.aliases ?? {};
  }

  /** One version; its source is kept for `getSource`. */
  async getVersion(name: string, version: number): Promise<VersionRecord> {
    const key = `${name}@${version}`;
    let hit = this.#versions.get(key);
    if (hit === undefined) {
      hit = this.#call<VersionRecord & { source: string }>(
        `/v1/functions/${encodeURIComponent(name)}/versions/${version}`,
      );
      if (this.#versions.size >= VERSIONS_KEPT) {
        this.#versions.delete(this.#versions.keys().next().value!);
      }
      this.#versions.set(key, hit);
      hit.catch(() => this.#versions.delete(key));
    }
    const { source, ...record } = await hit;
    if (this.#sources.size >= VERSIONS_KEPT) {
      this.#sources.delete(this.#sources.keys().next().value!);
    }
    this.#sources.set(record.digest, source);
    return record;
  }

  /** The source of a version read with `getVersion`. */
  getSource(digest: string): Promise<string> {
    const source = this.#sources.get(digest);
    if (source === undefined) {
      return Promise.reject(new NotFoundError(`No source ${digest} was read here`));
    }
    return Promise.resolve(source);
  }

  #describe(name: string): Promise<Described | undefined> {
    const now = Date.now();
    const hit = this.#described.get(name);
    if (hit !== undefined && now - hit.at < ALIAS_MS) return hit.value;
    const value = this.#call<Described>(`/v1/functions/${encodeURIComponent(name)}`).catch(
      (e) => {
        if (e instanceof NotFoundError) return undefined;
        this.#described.delete(name);
        throw e;
      },
    );
    if (this.#described.size >= VERSIONS_KEPT) {
      this.#described.delete(this.#described.keys().next().value!);
    }
    this.#described.set(name, { at: now, value });
    return value;
  }

  async #call<T>(path: string): Promise<T> {
    return await controlCall<T>(this.#url, "GET", path, undefined, {
      ...(this.#token === undefined ? {} : { token: this.#token }),
      peer: `Name server ${this.#url}`,
      timeoutMs: this.#timeoutMs,
    });
  }
}
