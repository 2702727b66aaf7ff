/**
 * The KV store under a service's metadata: reads, ordered scans and atomic
 * commits. `LocalMetaKv` is the registry's Deno KV in this process, with
 * commits of concurrent requests sharing one atomic (group commit);
 * `RemoteMetaKv` (remote_meta_kv.ts) reaches the name server's from a
 * runtime in its own process.
 *
 * @module
 */

import { InvalidRequestError } from "../errors.ts";
import {
  type Check,
  GroupCommitter,
  type Mutation,
  type MutationSize,
} from "../registry/group_commit.ts";
import { keyBytes, KV_LIMITS } from "./kv_limits.ts";
import { scanSelector } from "./kv_order.ts";

/** One entry read: its value and versionstamp (both null when absent). */
export interface MetaKvEntry {
  /** The value, or null. */
  readonly value: unknown;
  /** The versionstamp, or null when the key holds nothing. */
  readonly versionstamp: string | null;
}

/** A scan's selector and options, as `Deno.Kv.list` takes them. */
export interface MetaKvScan {
  /** Keys under this prefix. */
  readonly prefix?: Deno.KvKey;
  /** First key (inclusive). */
  readonly start?: Deno.KvKey;
  /** Key to stop before. */
  readonly end?: Deno.KvKey;
  /** Most entries. */
  readonly limit: number;
  /** Newest-first order. */
  readonly reverse: boolean;
}

/**
 * Called with the mutations of each commit that applied, and the `origin`
 * its caller passed (undefined for the commits of other runtimes).
 */
export type CommitListener = (mutations: readonly Mutation[], origin: unknown) => void;

/** What the kit's metadata needs of a KV store. */
export interface MetaKv {
  /** The entries of `keys` (at most 10), in order. */
  getMany(keys: readonly Deno.KvKey[]): Promise<MetaKvEntry[]>;
  /** The entries of a scan, in key order. */
  list(scan: MetaKvScan): AsyncIterable<{ key: Deno.KvKey; value: unknown }>;
  /**
   * Applies `mutations` if every check holds, atomically; false when one
   * did not. `origin` names the writer to `watch` listeners; `size`, the
   * caller's estimate of the mutations' bytes (`mutationBytes`), when it
   * has one, spares measuring them again.
   */
  commit(
    mutations: readonly Mutation[],
    checks: readonly Check[],
    origin?: unknown,
    size?: MutationSize,
  ): Promise<boolean>;
  /**
   * Calls `listener` for every commit that applies, before the commit
   * answers; returns the function that stops it. Only a KV every commit
   * passes through (one in this process) has it: a cache of its values can
   * follow the writes of every runtime.
   */
  watch?(listener: CommitListener): () => void;
  /** Stops accepting commits; those queued fail, the one in flight finishes. */
  close(): Promise<void>;
}

// Top-level keys beside the registry's (docs/registry.md): which services
// ever stored a value in a blob, and whether a KV written before these
// markers was read for them.
const BLOB_MARKS: Deno.KvKey = ["svc_blobs"];
const BLOBS_SCANNED: Deno.KvKey = ["svc_blobs_scanned"];

/**
 * Whether a service value names a blob of its own (`{ blob: ref }`, as
 * `ServiceMeta` stores large values), which the write replacing it frees. A
 * range of a pack (`{ blob, at, length }`) does not count: other values
 * share its blob, which only the sweep frees, so replacing it frees nothing.
 */
function namesBlob(value: unknown): boolean {
  return typeof value === "object" && value !== null && !(value instanceof Uint8Array) &&
    "blob" in value && !("at" in value);
}

/**
 * What one atomic may hold, as `mutationBytes` estimates it: KV counts its
 * own encoding, so a tenth of its limits is kept spare.
 */
export const COMMIT_BUDGET = {
  /** Mutations. */
  mutations: KV_LIMITS.maxMutations,
  /** Checks. */
  checks: KV_LIMITS.maxChecks,
  /** Bytes of keys and values. */
  bytes: Math.floor(KV_LIMITS.maxCommitBytes * 0.9),
  /** Bytes of keys. */
  keyBytes: Math.floor(KV_LIMITS.maxCommitKeyBytes * 0.9),
} as const;

/** The top-level prefix every service key lives under. */
export const SERVICE_KEY_ROOT = "svc";

/**
 * Refuses a key outside the services' prefix (`["svc", ...]`): a service, or
 * a runtime asking the name server for one, never touches the registry's
 * own keys. A key longer than KV takes (`KV_LIMITS.maxKeyBytes`) is refused
 * too, before KV sees it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkServiceKey } from "./meta_kv.ts";
 * checkServiceKey(["svc", "notes", "a"]);
 * assert.throws(() => checkServiceKey(["dataset", "x"]), /outside/);
 * ```
 */
export function checkServiceKey(key: unknown): Deno.KvKey {
  if (!Array.isArray(key) || key.length < 2 || key[0] !== SERVICE_KEY_ROOT) {
    throw new InvalidRequestError(
      `Invalid service key: outside ["${SERVICE_KEY_ROOT}", <service>, ...]`,
      { fields: { field: "key" } },
    );
  }
  for (const part of key) {
    if (
      !(part instanceof Uint8Array) && typeof part !== "string" && typeof part !== "number" &&
      typeof part !== "bigint" && typeof part !== "boolean"
    ) {
      throw new InvalidRequestError("Invalid service key: parts are strings, numbers or bytes", {
        fields: { field: "key" },
      });
    }
    // KV holds a bigint part's magnitude in at most 255 bytes.
    if (typeof part === "bigint" && (part < 0n ? -part : part).toString(16).length > 510) {
      throw new InvalidRequestError(
        "Invalid service key: a bigint part takes more than 255 bytes",
        {
          fields: { field: "key" },
        },
      );
    }
  }
  const size = keyBytes(key as Deno.KvKey);
  if (size > KV_LIMITS.maxKeyBytes) {
    throw new InvalidRequestError(
      `Invalid service key: ${size} bytes, at most ${KV_LIMITS.maxKeyBytes}`,
      { fields: { field: "key", keyBytes: size, limit: KV_LIMITS.maxKeyBytes } },
    );
  }
  return key as Deno.KvKey;
}

/**
 * The registry's Deno KV in this process. Commits queued while one is in
 * flight share the next atomic (`GroupCommitter`): one durable KV commit
 * for many requests' metadata writes. A commit with checks never shares an
 * atomic with an earlier one writing a key it checks, so a put-if-absent
 * keeps its meaning. Every commit to the KV passes through it (the name
 * server's routes commit the other runtimes' writes here), so `watch`
 * reports them all.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LocalMetaKv } from "./meta_kv.ts";
 * const kv = await Deno.openKv(":memory:");
 * const meta = new LocalMetaKv(kv);
 * const seen: unknown[] = [];
 * meta.watch((mutations, origin) => seen.push([mutations.length, origin]));
 * assert.equal(await meta.commit([{ type: "set", key: ["svc", "n", 1], value: 1 }], [], "me"), true);
 * assert.deepEqual(seen, [[1, "me"]]);
 * assert.equal(await meta.commit([{ type: "set", key: ["svc", "n", 1], value: 2 }], [{ key: ["svc", "n", 1], versionstamp: null }]), false);
 * assert.equal((await meta.getMany([["svc", "n", 1]]))[0]?.value, 1);
 * await meta.close();
 * kv.close();
 * ```
 */
export class LocalMetaKv implements MetaKv {
  readonly #kv: Deno.Kv;
  readonly #commits: GroupCommitter;
  readonly #listeners = new Set<CommitListener>();
  /** Services with a key that named a blob at some point (marked as their commits are queued). */
  readonly #blobServices = new Set<string>();
  /** Whether `#blobServices` holds every such service (read from KV once). */
  #blobsLoaded = false;
  #loadingBlobs: Promise<void> | undefined;

  /** Serves metadata from `kv`. */
  constructor(kv: Deno.Kv) {
    this.#kv = kv;
    this.#commits = new GroupCommitter(kv, {
      maxMutations: KV_LIMITS.maxMutations,
      maxChecks: KV_LIMITS.maxChecks,
      maxBytes: COMMIT_BUDGET.bytes,
      maxKeyBytes: COMMIT_BUDGET.keyBytes,
      maxQueue: 4096,
    });
  }

  /** Atomic commits made so far, and the commits they held (group commit at work). */
  get stats(): { readonly atomics: number; readonly commits: number } {
    return { atomics: this.#commits.commits, commits: this.#commits.writes };
  }

  async getMany(keys: readonly Deno.KvKey[]): Promise<MetaKvEntry[]> {
    const got = await this.#kv.getMany(keys as Deno.KvKey[]);
    return got.map((e) => ({ value: e.value, versionstamp: e.versionstamp }));
  }

  list(scan: MetaKvScan): AsyncIterable<{ key: Deno.KvKey; value: unknown }> {
    // A range that holds nothing (a cursor past the last key, say) lists
    // nothing; Deno KV would throw on it.
    const selector = scanSelector(scan.prefix, scan.start, scan.end);
    if (selector === undefined) return (async function* () {})();
    return this.#kv.list(selector, {
      limit: scan.limit,
      reverse: scan.reverse,
      batchSize: Math.min(scan.limit, 500),
    });
  }

  /**
   * Reads once which services have ever had a key naming a blob (their
   * markers, `["svc_blobs", service]`); the first time on a KV without the
   * marker of that reading, every service value is read to find them.
   */
  blobsKnown(): Promise<void> {
    // A read that failed (the KV busy, say) is tried again by the next caller.
    return this.#loadingBlobs ??= this.#loadBlobs().catch((e) => {
      this.#loadingBlobs = undefined;
      throw e;
    });
  }

  /**
   * Whether `service` may have a key naming a blob: true unless
   * `blobsKnown()` finished and neither KV nor a commit queued since marked
   * it. A commit queued after this answered false is queued after every
   * commit that could make it true, so a write decided on it never replaces
   * a blob it did not see.
   */
  mayHoldBlobs(service: string): boolean {
    return !this.#blobsLoaded || this.#blobServices.has(service);
  }

  async #loadBlobs(): Promise<void> {
    for await (const e of this.#kv.list({ prefix: BLOB_MARKS })) {
      this.#blobServices.add(String(e.key[1]));
    }
    if ((await this.#kv.get(BLOBS_SCANNED)).value === null) {
      // A KV written before the markers: its services' values are read once.
      const found = new Set<string>();
      for await (const e of this.#kv.list({ prefix: [SERVICE_KEY_ROOT] }, { batchSize: 500 })) {
        if (namesBlob(e.value)) found.add(String(e.key[1]));
      }
      for (const name of found) this.#blobServices.add(name);
      const marks: Mutation[] = [...found].map((name) => ({
        type: "set",
        key: [...BLOB_MARKS, name],
        value: true,
      }));
      // Within an atomic's mutations whatever the number of services; the
      // marker of the reading last, once every service's is stored.
      for (let at = 0; at < marks.length; at += 500) {
        await this.#commits.write(marks.slice(at, at + 500));
      }
      await this.#commits.write([{ type: "set", key: BLOBS_SCANNED, value: true }]);
    }
    this.#blobsLoaded = true;
  }

  async commit(
    mutations: readonly Mutation[],
    checks: readonly Check[],
    origin?: unknown,
    size?: MutationSize,
  ): Promise<boolean> {
    // A service's first value naming a blob marks it, in the same atomic.
    let marks: Mutation[] | undefined;
    for (const m of mutations) {
      if (m.type !== "set" || m.key[0] !== SERVICE_KEY_ROOT || !namesBlob(m.value)) continue;
      const name = String(m.key[1]);
      if (this.#blobsLoaded && this.#blobServices.has(name)) continue;
      this.#blobServices.add(name);
      (marks ??= []).push({ type: "set", key: [...BLOB_MARKS, name], value: true });
    }
    const all = marks === undefined ? mutations : [...mutations, ...marks];
    const { ok } = await this.#commits.write(
      all,
      checks,
      marks === undefined ? size : undefined,
    );
    if (!ok) return ok;
    for (const l of this.#listeners) {
      try {
        l(mutations, origin);
      } catch (e) {
        // The commit applied: a listener's fault must not answer it as failed.
        console.error(`strata: a service KV listener failed: ${(e as Error)?.message ?? e}`);
      }
    }
    return ok;
  }

  watch(listener: CommitListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  close(): Promise<void> {
    return this.#commits.close();
  }
}
