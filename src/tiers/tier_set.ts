/**
 * A node's tiers as one store: the placement policy picks the tiers of each
 * new copy, the spill rule makes room by demoting least-recently-used copies
 * down the hierarchy, and reads find a copy on whichever tier holds it.
 *
 * @module
 */

import { Decisions, type Placement, type PolicyStatus } from "./_decide.ts";
import { type Holding, Holdings } from "./_holdings.ts";
import { KeyChains, Mutex } from "./_locks.ts";
import { NoRoom, type PutSource, sizeOfSource, Spilling } from "./_spilling.ts";
import { openTiers, type TierPlace } from "./open_tier.ts";
import type { NamedPolicy, NodeView, PlacedFragment, ReshapeChoice, TierView } from "./policy.ts";
import type { DeclaredTier, TierSpec } from "./tier_config.ts";
import type { DirectoryTier } from "./directory_tier.ts";
import { TierFullError } from "../errors.ts";
import type { StagedFile } from "./tier.ts";
import { type TierUsage, tierUsage, tierViews } from "./usage.ts";
import { log as logger } from "../observe/mod.ts";

export type { DeclaredTier, Placement, PolicyStatus, TierUsage };

/** Options of a tier set. */
export interface TierSetOptions {
  /** This node's name. */
  readonly node: string;
  /** The tiers, fastest first: the order copies spill in. */
  readonly tiers: readonly DeclaredTier[];
  /** The placement policy (default fastest-fit). */
  readonly policy?: NamedPolicy;
  /** Where problems with the policy are reported (default: a warning in the process's log). */
  readonly log?: (message: string) => void;
}

/** Where a copy went. */
export interface Stored extends Placement {
  /** The tier the registry should name: the most durable one holding the copy. */
  readonly primary: string;
  /** Which write of the key this was (for `deleteIf()`). */
  readonly generation: number;
}

/**
 * The tiers of one node, with the index of the copies they hold.
 *
 * Spill invariant: a copy leaves a tier only after another tier holds it
 * (the demotion's write to the lower tier has completed), or because it is
 * freed (retention retired its version, its dataset was deleted, or its
 * publish failed). A copy that is the only persistent copy of a durable
 * dataset leaves only for another persistent tier.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemoryTier, TierSet, KIND_DEFAULTS } from "./mod.ts";
 * const spec = (name: string, capacity: number) => ({ name, kind: "memory", capacity, ...KIND_DEFAULTS.memory } as const);
 * const tiers = new TierSet({
 *   node: "n1",
 *   tiers: [
 *     { tier: new MemoryTier("fast", 100), spec: spec("fast", 100) },
 *     { tier: new MemoryTier("slow", 1000), spec: { ...spec("slow", 1000), bandwidth: 1e9 } },
 *   ],
 * });
 * const fragment = (version: number) => ({ dataset: "d", version, fragment: "dataset", bindings: {}, byteLength: 60, durable: false, consumers: [] });
 * await tiers.store("d/1", new Uint8Array(60).fill(1), fragment(1));
 * const second = await tiers.store("d/2", new Uint8Array(60).fill(2), fragment(2));
 * assert.deepEqual(second.tiers, ["fast"]);
 * assert.deepEqual(tiers.tiersOf("d/1"), ["slow"]); // spilled, not lost
 * assert.deepEqual((await tiers.get("d/1"))?.bytes, new Uint8Array(60).fill(1));
 * ```
 */
export class TierSet {
  /** This node's name. */
  readonly node: string;
  readonly #tiers: readonly DeclaredTier[];
  readonly #holdings: Holdings;
  readonly #decisions: Decisions;
  readonly #spilling: Spilling;
  readonly #keyChains = new KeyChains();
  #generation = 0;

  /** Creates a tier set over open tiers, indexing the copies they already hold. */
  constructor(options: TierSetOptions) {
    this.node = options.node;
    this.#tiers = options.tiers;
    this.#holdings = new Holdings(options.tiers);
    const log = options.log ?? ((message: string) => logger.warn("tier set", { message }));
    this.#decisions = new Decisions({
      node: options.node,
      policy: options.policy,
      log,
      views: (excluded) => this.views(excluded),
      usage: () => this.usage(),
    });
    this.#spilling = new Spilling({
      tiers: options.tiers,
      holdings: this.#holdings,
      lock: new Mutex(),
      log,
    });
    this.#indexHeld();
  }

  /** Indexes the copies the tiers already hold. */
  #indexHeld(): void {
    for (const { tier, spec } of this.#tiers) {
      if (tier.name !== spec.name) {
        throw new TypeError(`Tier '${tier.name}' is declared as '${spec.name}'`);
      }
      for (const { key, byteLength } of tier.list()) {
        const h = this.#holdings.get(key) ??
          this.#holdings.create(key, byteLength, spec.persistent);
        this.#holdings.attach(h, spec.name);
        // A copy found on a persistent tier after a restart is treated as durable: it
        // then only spills to persistent tiers.
        h.durable ||= spec.persistent;
      }
    }
    for (const [, h] of this.#holdings.entries()) h.recorded = this.#holdings.primary(h.tiers);
  }

  /**
   * Opens the declared tiers (creating their directories) and indexes what
   * the persistent ones hold.
   */
  static async open(
    specs: readonly TierSpec[],
    options: TierPlace & Omit<TierSetOptions, "tiers">,
  ): Promise<TierSet> {
    const tiers = await openTiers(specs, options);
    return new TierSet({ ...options, tiers: tiers.map((tier, i) => ({ tier, spec: specs[i]! })) });
  }

  /** The configured policy and how often the default had to stand in for it. */
  get policy(): PolicyStatus {
    return this.#decisions.status;
  }

  /** The declarations of the tiers, fastest first. */
  get specs(): readonly TierSpec[] {
    return this.#tiers.map((t) => t.spec);
  }

  /**
   * Subscribes to changes of a copy's primary tier (a spill or a flush moved
   * it); returns the unsubscribe function. The runtime tells the registry.
   */
  onMove(listener: (key: string, tier: string) => unknown): () => void {
    return this.#spilling.onMove(listener);
  }

  /**
   * Asks the policy where a new copy goes. A policy that throws or answers
   * wrongly is reported and the default policy decides; `NodeFullError`
   * when the default finds no room either.
   */
  place(fragment: PlacedFragment, others: readonly NodeView[] = []): Placement {
    return this.#decisions.decide(fragment, this.#decisions.configured, undefined, others);
  }

  /**
   * Stores a copy under `key` where `placement` (by default the policy's
   * answer) says, spilling least-recently-used copies to make room. When the
   * tiers the configured policy chose cannot make room, the default policy
   * places the copy instead. Copies of the key on other tiers (an earlier
   * publish of it) are removed once the new ones are written.
   */
  store(
    key: string,
    bytes: Uint8Array,
    fragment: PlacedFragment,
    placement?: Placement,
  ): Promise<Stored> {
    return this.#keyChains.run(key, () => this.#store(key, bytes, fragment, placement));
  }

  /**
   * Stores the copy `file` holds, as `store` stores bytes, without reading
   * it into this process: each tier of the placement but the file's own
   * gets a copy made by the kernel, then the file's own tier, when placed
   * there, takes the file itself (renamed: no byte copied). A file left at
   * its path is the caller's to remove. The file must not change while it
   * is stored.
   */
  storeFile(
    key: string,
    file: StagedFile,
    fragment: PlacedFragment,
    placement?: Placement,
  ): Promise<Stored> {
    return this.#keyChains.run(key, () => this.#store(key, file, fragment, placement));
  }

  async #store(
    key: string,
    bytes: Uint8Array | StagedFile,
    fragment: PlacedFragment,
    placement: Placement | undefined,
  ): Promise<Stored> {
    const decisions = this.#decisions;
    let chosen = placement ?? this.place(fragment);
    const excluded = new Set<string>();
    for (let attempt = 0;; attempt++) {
      try {
        await this.#write(key, bytes, fragment, chosen);
        break;
      } catch (e) {
        if (!(e instanceof NoRoom)) throw e;
        if (chosen.policy !== decisions.default.name) {
          decisions.report(
            chosen.policy,
            `chose tier '${e.tier}', which could not make room even by spilling`,
            fragment,
          );
        } else if (excluded.has(e.tier) || attempt > this.#tiers.length) {
          throw decisions.full(fragment);
        }
        // The room estimate was too hopeful for this tier: place again without its spill room.
        excluded.add(e.tier);
        chosen = decisions.decide(fragment, decisions.default, excluded);
      }
    }
    const h = this.#holdings.get(key)!;
    h.recorded = this.#holdings.primary(h.tiers);
    return { ...chosen, primary: h.recorded, generation: h.generation };
  }

  /** The copy under `key` from the fastest tier holding it (and marks it used), or undefined. */
  async get(key: string): Promise<{ bytes: Uint8Array; tier: string } | undefined> {
    const found = await this.#read(key);
    if (found !== undefined) {
      const h = this.#holdings.get(key);
      if (h !== undefined) this.#holdings.touch(h);
    }
    return found;
  }

  /**
   * Reads byte runs of the copy under `key` into `into` (see
   * `Tier.getRanges`) from the fastest tier holding it, when that tier reads
   * parts of copies; false when it does not (a memory tier: read the copy
   * whole) or no tier holds the key.
   */
  async getRanges(
    key: string,
    runs: readonly (readonly [number, number])[],
    into: Uint8Array,
    base = 0,
  ): Promise<boolean> {
    // A demotion may delete a copy between the index lookup and the read: look again.
    for (let attempt = 0; attempt < 3; attempt++) {
      const h = this.#holdings.get(key);
      if (h === undefined) return false;
      for (const { tier, spec } of this.#tiers) {
        if (!h.tiers.has(spec.name)) continue;
        if (tier.getRanges === undefined) return false;
        if (await tier.getRanges(key, runs, into, base)) {
          this.#holdings.touch(h);
          return true;
        }
      }
    }
    return false;
  }

  /** Whether the fastest tier holding `key` reads parts of copies (`getRanges`). */
  readsRanges(key: string): boolean {
    const h = this.#holdings.get(key);
    if (h === undefined) return false;
    const first = this.#tiers.find(({ spec }) => h.tiers.has(spec.name));
    return first?.tier.getRanges !== undefined;
  }

  /** Whether some tier holds `key`. */
  holds(key: string): boolean {
    return this.#holdings.get(key) !== undefined;
  }

  /** The tiers holding `key`, fastest first. */
  tiersOf(key: string): string[] {
    const h = this.#holdings.get(key);
    if (h === undefined) return [];
    return this.#tiers.map((t) => t.spec.name).filter((n) => h.tiers.has(n));
  }

  /** The tier the registry should name for `key`, or undefined when no tier holds it. */
  primaryOf(key: string): string | undefined {
    const h = this.#holdings.get(key);
    return h === undefined ? undefined : this.#holdings.primary(h.tiers);
  }

  /** Where the policy said reshapes of `key` run (`source` for copies found after a restart). */
  reshapeOf(key: string): ReshapeChoice | undefined {
    return this.#holdings.get(key)?.reshape;
  }

  /** Whether the tier named `name` exists and keeps copies across restarts. */
  isPersistent(name: string): boolean | undefined {
    return this.#holdings.byName.get(name)?.spec.persistent;
  }

  /** Keys held that start with `prefix`. */
  keys(prefix = ""): string[] {
    const out: string[] = [];
    for (const [key, h] of this.#holdings.entries()) {
      // A key whose first write is still under way is not held yet.
      if (h.tiers.size > 0 && key.startsWith(prefix)) out.push(key);
    }
    return out;
  }

  /**
   * Keys whose bytes were found on a tier when the set opened and have not
   * been written since: the copies a restarted runtime checks against the
   * name servers. `deleteIf(key, 0)` removes one only while that stays true.
   */
  foundAtOpen(): string[] {
    const out: string[] = [];
    for (const [key, h] of this.#holdings.entries()) {
      if (h.generation === 0 && h.busy === 0 && h.tiers.size > 0) out.push(key);
    }
    return out;
  }

  /** Removes every copy of `key` from every tier (its version was retired or never registered). */
  delete(key: string): Promise<void> {
    return this.#keyChains.run(key, () => this.#delete(key));
  }

  /**
   * Removes `key` only if the bytes held are those of the store that
   * returned `generation` (a failed publish cleaning up after itself must
   * not remove a racing publish's bytes); returns whether it did.
   */
  deleteIf(key: string, generation: number): Promise<boolean> {
    return this.#keyChains.run(key, async () => {
      if (this.#holdings.get(key)?.generation !== generation) return false;
      await this.#delete(key);
      return true;
    });
  }

  /**
   * The file of `key`'s copy on an shm tier, for a process of this node
   * that maps it in place (`POST .../map`), or undefined when no shm tier
   * holds it. Sharing a copy's file with other processes is what shm tiers
   * are for.
   */
  shmFileOf(key: string): { readonly tier: string; readonly path: string } | undefined {
    const h = this.#holdings.get(key);
    if (h === undefined) return undefined;
    for (const { tier, spec } of this.#tiers) {
      if (spec.kind !== "shm" || !h.tiers.has(spec.name)) continue;
      const path = tier.pathOf?.(key);
      if (path !== undefined) return { tier: spec.name, path };
    }
    return undefined;
  }

  /**
   * Where a process of this node may write `byteLength` bytes for a publish
   * to read (`POST .../stage`): a file named by `id` on the first shm tier
   * with that much room, whose bytes count against that tier's capacity
   * until `release()` (the file is not a copy: the spill rule cannot move
   * it); undefined when no shm tier has the room.
   */
  reserveShmStaging(
    id: string,
    byteLength: number,
  ): { readonly tier: string; readonly path: string; release(): void } | undefined {
    for (const { tier, spec } of this.#tiers) {
      const staging = tier as Partial<Pick<DirectoryTier, "reserveStaging" | "releaseStaging">>;
      if (spec.kind !== "shm" || staging.reserveStaging === undefined) continue;
      let path: string;
      try {
        path = staging.reserveStaging(id, byteLength);
      } catch (e) {
        if (e instanceof TierFullError) continue;
        throw e;
      }
      return { tier: spec.name, path, release: () => staging.releaseStaging?.(id) };
    }
    return undefined;
  }

  /**
   * Keeps the spill rule off `key` (a process maps its file) until the
   * returned function is called; undefined when no tier holds it. A pinned
   * copy may still be overwritten or freed: its mappers hold its bytes by
   * a link of their own (`MapLeases`).
   */
  pin(key: string): (() => void) | undefined {
    const h = this.#holdings.get(key);
    if (h === undefined) return undefined;
    h.busy++;
    let held = true;
    return () => {
      if (held) h.busy--;
      held = false;
    };
  }

  /** Size of the copy under `key`, when held. */
  sizeOf(key: string): number | undefined {
    return this.#holdings.get(key)?.byteLength;
  }

  /**
   * The tier the registry names for a copy held on `tiers`: the most
   * durable (a backing tier, then another persistent one, then the fastest).
   */
  primaryAmong(tiers: readonly string[]): string {
    return this.#holdings.primary(tiers);
  }

  /**
   * Copies `key` to tier `name` as well (a flush to the backing tier),
   * spilling there if it must; returns false when the tier held it already.
   * `NodeFullError` when the tier cannot make room.
   */
  copyTo(key: string, name: string, fragment: PlacedFragment): Promise<boolean> {
    return this.#keyChains.run(key, () => this.#copyTo(key, name, fragment));
  }

  async #copyTo(key: string, name: string, fragment: PlacedFragment): Promise<boolean> {
    const h = this.#holdings.get(key);
    const target = this.#holdings.byName.get(name);
    if (h === undefined || target === undefined) return false;
    if (h.tiers.has(name)) return false;
    h.busy++;
    try {
      const put = async (source: PutSource) => {
        try {
          await this.#spilling.putWithRoom(name, key, source);
        } catch (e) {
          if (e instanceof NoRoom) throw this.#decisions.full(fragment, [name]);
          throw e;
        }
      };
      // A copy held in a file is copied file to file (by the kernel, where
      // the target stores files); else, or when that file is gone, its
      // bytes are read.
      const file = this.#fileOf(h, name);
      let stored = false;
      if (file !== undefined) {
        try {
          await put(file);
          stored = true;
        } catch (e) {
          if (!(e instanceof Deno.errors.NotFound)) throw e;
        }
      }
      if (!stored) {
        const found = await this.#read(key);
        if (found === undefined) return false;
        await put(found.bytes);
      }
      if (this.#holdings.get(key) !== h) {
        await target.tier.delete(key);
        return false;
      }
      this.#holdings.attach(h, name);
      await this.#spilling.announce(key, h);
      return true;
    } finally {
      h.busy--;
    }
  }

  /** Capacity, usage, copy count and speed of each tier, fastest first. */
  usage(): TierUsage[] {
    return tierUsage(this.#tiers);
  }

  /** What the policy sees of this node's tiers (`excluded` ones get no room from spilling). */
  views(excluded?: ReadonlySet<string>): TierView[] {
    return tierViews(this.usage(), (name) => this.#holdings.sharedOn(name), excluded);
  }

  /**
   * Writes a copy to each tier of `placement`; copies of the key on other
   * tiers go. A file is copied to the tiers first, then moved into its own.
   */
  async #write(
    key: string,
    bytes: Uint8Array | StagedFile,
    fragment: PlacedFragment,
    placement: Placement,
  ): Promise<void> {
    const holdings = this.#holdings;
    const source = (name: string): PutSource =>
      bytes instanceof Uint8Array ? bytes : { file: bytes, move: name === bytes.tier };
    const size = sizeOfSource(source(""));
    const h = holdings.get(key) ?? holdings.create(key, size, fragment.durable);
    h.busy++;
    const written: string[] = [];
    const put = async (name: string) => {
      await this.#spilling.putWithRoom(name, key, source(name));
      written.push(name);
      if (holdings.get(key) === undefined) holdings.set(key, h);
      holdings.attach(h, name);
    };
    try {
      // The tiers are written at once: a durable copy's fsync'd file
      // overlaps its shm copy (bench/restart_bench.ts).
      const last = bytes instanceof Uint8Array ? undefined : bytes.tier;
      const first = placement.tiers.filter((name) => name !== last);
      const settled = await Promise.allSettled(first.map(put));
      const failed = settled.find((r) => r.status === "rejected");
      if (failed !== undefined) throw failed.reason;
      if (last !== undefined && placement.tiers.includes(last)) await put(last);
    } catch (e) {
      for (const name of written) {
        await holdings.byName.get(name)!.tier.delete(key);
        holdings.detach(h, name);
      }
      if (h.tiers.size === 0 && holdings.get(key) === h) holdings.delete(key);
      throw e;
    } finally {
      h.busy--;
    }
    h.durable = fragment.durable;
    h.reshape = placement.reshape;
    h.generation = ++this.#generation;
    holdings.touch(h);
    // Tiers still holding an earlier publish of this key hold stale bytes.
    for (const name of [...h.tiers]) {
      if (placement.tiers.includes(name)) continue;
      holdings.detach(h, name);
      await holdings.byName.get(name)!.tier.delete(key);
    }
  }

  /**
   * The file of a copy of `h` on a tier other than `except` whose copies
   * are files, as a put source (copied, never moved), or undefined. The
   * caller holds the key's chain and counts the holding busy, so the file
   * stays while it is copied.
   */
  #fileOf(h: Holding, except: string): PutSource | undefined {
    for (const { tier, spec } of this.#tiers) {
      if (spec.name === except || !h.tiers.has(spec.name)) continue;
      const path = tier.pathOf?.(h.key);
      if (path !== undefined) return { file: { path, byteLength: h.byteLength }, move: false };
    }
    return undefined;
  }

  async #read(key: string): Promise<{ bytes: Uint8Array; tier: string } | undefined> {
    // A demotion may delete a copy between the index lookup and the read: look again.
    for (let attempt = 0; attempt < 3; attempt++) {
      const h = this.#holdings.get(key);
      if (h === undefined) return undefined;
      for (const { tier, spec } of this.#tiers) {
        if (!h.tiers.has(spec.name)) continue;
        const bytes = await tier.get(key);
        if (bytes !== undefined) return { bytes, tier: spec.name };
      }
    }
    return undefined;
  }

  async #delete(key: string): Promise<void> {
    const h: Holding | undefined = this.#holdings.get(key);
    if (h !== undefined) {
      while (h.moving !== undefined) await h.moving;
      for (const name of [...h.tiers]) this.#holdings.detach(h, name);
      if (this.#holdings.get(key) === h) this.#holdings.delete(key);
    }
    // Every tier, not only those indexed: nothing of the key may stay behind.
    for (const { tier } of this.#tiers) await tier.delete(key);
  }
}
