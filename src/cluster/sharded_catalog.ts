/**
 * The catalog of the name server that keeps functions and pipelines when
 * the registry is sharded over several name servers: its own datasets from
 * its registry, every other dataset from the name server that holds it, and
 * commits of both, those of other shards by following the datasets
 * pipelines read (one long-poll each).
 *
 * @module
 */

import { StrataError, WaitTimeoutError } from "../errors.ts";
import type { CreateDatasetInput, DatasetDescription } from "../registry/records.ts";
import type { Registry } from "../registry/registry.ts";
import type { RemoteNameService } from "./name_client.ts";
import { shardOf } from "./shard.ts";
import { log } from "../observe/mod.ts";

/** Options of a sharded catalog. */
export interface ShardedCatalogOptions {
  /** This name server's registry. */
  readonly registry: Registry;
  /** This name server's index in the shard list. */
  readonly self: number;
  /** The shard list's size. */
  readonly count: number;
  /** A client of every name server, in the shard list's order. */
  readonly remote: RemoteNameService;
  /** Longest wait of one follow request, in ms (default 25 000). */
  readonly waitMs?: number;
  /** Pause after a follow request failed, in ms (default 1 000). */
  readonly retryMs?: number;
}

interface Follower {
  count: number;
  stop: () => void;
}

/**
 * Routes dataset operations by shard and hears commits of every shard.
 *
 * @example
 * ```ts ignore
 * const catalog = new ShardedCatalog({ registry, self: 0, count: 2, remote });
 * catalog.onCommit((dataset, version) => console.log(dataset, version));
 * const unfollow = catalog.follow("particles"); // kept by the other name server
 * ```
 */
export class ShardedCatalog {
  readonly #registry: Registry;
  readonly #self: number;
  readonly #count: number;
  readonly #remote: RemoteNameService;
  readonly #waitMs: number;
  readonly #retryMs: number;
  readonly #listeners = new Set<(dataset: string, version: number) => void>();
  readonly #followers = new Map<string, Follower>();
  readonly #unsubscribe: () => void;
  #closed = false;

  /** Creates the catalog; nothing is followed until `follow()`. */
  constructor(options: ShardedCatalogOptions) {
    this.#registry = options.registry;
    this.#self = options.self;
    this.#count = options.count;
    this.#remote = options.remote;
    this.#waitMs = options.waitMs ?? 25_000;
    this.#retryMs = options.retryMs ?? 1_000;
    this.#unsubscribe = this.#registry.onCommit((dataset, version) => this.#emit(dataset, version));
  }

  /** Whether this name server holds `dataset`. */
  isLocal(dataset: string): boolean {
    return shardOf(dataset, this.#count) === this.#self;
  }

  /** Subscribes to commits of this shard and of the datasets followed; returns the unsubscribe function. */
  onCommit(listener: (dataset: string, version: number) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Hears the commits of `dataset` from here on (a dataset of this shard is
   * heard anyway); returns the function that stops it. Follows are counted:
   * the dataset is followed until every `follow()` is stopped.
   */
  follow(dataset: string): () => void {
    if (this.isLocal(dataset) || this.#closed) return () => {};
    let f = this.#followers.get(dataset);
    if (f === undefined) {
      const ctl = { stopped: false, wake: () => {} };
      f = {
        count: 0,
        stop: () => {
          ctl.stopped = true;
          ctl.wake();
        },
      };
      this.#followers.set(dataset, f);
      this.#loop(dataset, ctl);
    }
    f.count++;
    let stopped = false;
    return () => {
      if (stopped) return;
      stopped = true;
      if (--f.count > 0) return;
      this.#followers.delete(dataset);
      f.stop();
    };
  }

  /** Stops following; the remote client is the caller's to close. */
  close(): Promise<void> {
    this.#closed = true;
    this.#unsubscribe();
    for (const f of this.#followers.values()) f.stop();
    this.#followers.clear();
    this.#listeners.clear();
    return Promise.resolve();
  }

  /** Stops following (`await using`). */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  describeDataset(name: string): Promise<DatasetDescription> {
    return this.isLocal(name)
      ? this.#registry.describeDataset(name)
      : this.#remote.describeDataset(name);
  }

  createDataset(input: CreateDatasetInput): Promise<unknown> {
    if (this.isLocal(input.name)) return this.#registry.createDataset(input);
    const { description, ...rest } = input;
    return this.#remote.createDataset(
      typeof description === "object" ? { ...rest, descriptionJson: description } : input as {
        name: string;
        description?: string;
      },
    );
  }

  commitVersion(dataset: string, version: number): Promise<unknown> {
    return this.isLocal(dataset)
      ? this.#registry.commitVersion(dataset, version)
      : this.#remote.commitVersion(dataset, version);
  }

  attachFragments(
    q: Parameters<Registry["attachFragments"]>[0],
  ): ReturnType<RemoteNameService["attachFragments"]> {
    return this.isLocal(q.dataset)
      ? this.#registry.attachFragments(q) as ReturnType<RemoteNameService["attachFragments"]>
      : this.#remote.attachFragments(q);
  }

  /** Nodes register with every name server: this one's list is the cluster's. */
  listNodes(): ReturnType<Registry["listNodes"]> {
    return this.#registry.listNodes();
  }

  #emit(dataset: string, version: number): void {
    for (const l of this.#listeners) {
      try {
        l(dataset, version);
      } catch {
        // A listener's failure is its own.
      }
    }
  }

  async #loop(dataset: string, ctl: { stopped: boolean; wake: () => void }): Promise<void> {
    const pause = () =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(done, this.#retryMs);
        function done() {
          clearTimeout(timer);
          resolve();
        }
        ctl.wake = done;
      });
    let next: number | undefined;
    while (!ctl.stopped && !this.#closed) {
      try {
        if (next === undefined) {
          // Start after the newest committed version: older ones are the
          // pipelines' catch-up, not news.
          const d = await this.#remote.describeDataset(dataset);
          next = 1 +
            Math.max(0, ...d.versions.filter((v) => v.state === "committed").map((v) => v.version));
        }
        const v = await this.#remote.waitForVersion(dataset, next, { timeoutMs: this.#waitMs });
        if (ctl.stopped || this.#closed) return;
        this.#emit(dataset, v);
        next = v + 1;
      } catch (e) {
        if (ctl.stopped || this.#closed) return;
        if (e instanceof WaitTimeoutError) continue;
        // Not created yet, or its name server does not answer: ask again soon.
        if (!(e instanceof StrataError)) {
          log.warn("following commits failed", { dataset, error: (e as Error).message });
        }
        await pause();
      }
    }
  }
}
