/**
 * A node's tiers as one store: the placement policy picks the tiers of each
 * new copy, the spill rule makes room by demoting least-recently-used copies
 * down the hierarchy, and reads find a copy on whichever tier holds it.
 *
 * @module
 */

import { NodeFullError, TierFullError } from "../errors.ts";
import { checkDecision } from "./check_decision.ts";
import { defaultPolicy } from "./load_policy.ts";
import { openTiers, type TierPlace } from "./open_tier.ts";
import { planSpill, type SpillCopy, type SpillMove } from "./spill.ts";
import type {
  CopyPlacement,
  NamedPolicy,
  NodeView,
  PlacedFragment,
  PlacementRequest,
  ReshapeChoice,
  TierView,
} from "./policy.ts";
import type { Tier, TierInfo } from "./tier.ts";
import type { TierSpec } from "./tier_config.ts";

/** A tier with its declaration. */
export interface DeclaredTier {
  /** The store. */
  readonly tier: Tier;
  /** What config says about it (speed, persistence). */
  readonly spec: TierSpec;
}

/** Options of a tier set. */
export interface TierSetOptions {
  /** This node's name. */
  readonly node: string;
  /** The tiers, fastest first: the order copies spill in. */
  readonly tiers: readonly DeclaredTier[];
  /** The placement policy (default fastest-fit). */
  readonly policy?: NamedPolicy;
  /** Where problems with the policy are reported (default `console.warn`). */
  readonly log?: (message: string) => void;
}

/** Where a copy goes. */
export interface Placement {
  /**
   * Tiers of this node that get a copy. When the policy placed every copy
   * on other nodes, the tiers the default policy picks here to hold the
   * bytes until those copies are registered (`staged`).
   */
  readonly tiers: readonly string[];
  /** Copies the policy placed on other nodes. */
  readonly remote?: readonly CopyPlacement[];
  /** Whether this node's copy only stands in until the remote copies hold the bytes. */
  readonly staged?: boolean;
  /** Where reshapes of the fragment run. */
  readonly reshape: ReshapeChoice;
  /** The policy that decided. */
  readonly policy: string;
}

/** Where a copy went. */
export interface Stored extends Placement {
  /** The tier the registry should name: the most durable one holding the copy. */
  readonly primary: string;
  /** Which write of the key this was (for `deleteIf()`). */
  readonly generation: number;
}

/** One tier's figures for `GET /v1/nodes`. */
export interface TierUsage extends TierInfo {
  /** Bytes free. */
  readonly free: number;
  /** Declared bandwidth, bytes per second. */
  readonly bandwidth: number;
  /** Declared latency, seconds. */
  readonly latency: number;
}

/** How the placement policy is doing. */
export interface PolicyStatus {
  /** The configured policy. */
  readonly name: string;
  /** Placements in which it failed and the default policy placed the copy instead. */
  readonly fallbacks: number;
  /** Its last failure, when it failed. */
  readonly lastProblem?: string;
}

interface Holding {
  readonly key: string;
  /** Tiers holding a copy. */
  readonly tiers: Set<string>;
  byteLength: number;
  /** Logical time of the last write or read: the spill rule demotes the smallest first. */
  lastUse: number;
  durable: boolean;
  reshape: ReshapeChoice;
  /** The tier last announced as primary (what the registry names). */
  recorded: string;
  /** Writes, flushes and map leases of this key under way: the spill rule leaves it alone. */
  busy: number;
  /** A demotion of this key under way: a delete waits for it. */
  moving: Promise<void> | undefined;
  /** Which write of the key stored the bytes held. */
  generation: number;
}

/** The spill rule could not make room on a tier. */
class NoRoom extends Error {
  constructor(readonly tier: string) {
    super(`No room on tier '${tier}'`);
  }
}

/** Attempts at a put that other writers keep beating to the freed bytes. */
const PUT_ATTEMPTS = 4;
/** Distinct policy problems logged in full; later ones are only counted. */
const REPORTED_PROBLEMS = 64;

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
  readonly #byName: Map<string, DeclaredTier & { readonly rank: number }>;
  readonly #copies = new Map<string, Holding>();
  readonly #policy: NamedPolicy;
  readonly #default: NamedPolicy;
  readonly #log: (message: string) => void;
  readonly #reported = new Set<string>();
  readonly #moveListeners = new Set<(key: string, tier: string) => unknown>();
  /** Per tier, bytes of its copies that another tier also holds (droppable without a move). */
  readonly #shared = new Map<string, number>();
  /** Per tier, its copies least recently used (or arrived) first: the spill rule's candidates. */
  readonly #lru = new Map<string, Map<string, Holding>>();
  #clock = 0;
  #sequence = 0;
  #generation = 0;
  #fallbacks = 0;
  #lastProblem: string | undefined;
  #lock: Promise<unknown> = Promise.resolve();
  /** Per key, the tail of its stores, flushes and deletes, which run one at a time. */
  readonly #keyChains = new Map<string, Promise<unknown>>();

  /** Creates a tier set over open tiers, indexing the copies they already hold. */
  constructor(options: TierSetOptions) {
    this.node = options.node;
    this.#tiers = options.tiers;
    this.#byName = new Map(options.tiers.map((t, rank) => [t.spec.name, { ...t, rank }]));
    this.#default = defaultPolicy();
    // Config naming the default policy gets the default itself: its failures are 507s, not fallbacks.
    this.#policy = options.policy === undefined || options.policy.place === this.#default.place
      ? this.#default
      : options.policy;
    this.#log = options.log ?? console.warn;
    for (const { spec } of options.tiers) this.#lru.set(spec.name, new Map());
    for (const { tier, spec } of options.tiers) {
      if (tier.name !== spec.name) {
        throw new TypeError(`Tier '${tier.name}' is declared as '${spec.name}'`);
      }
      for (const { key, byteLength } of tier.list()) {
        const h = this.#copies.get(key) ?? this.#holding(key, byteLength, spec.persistent);
        this.#attach(h, spec.name);
        // A copy found on a persistent tier after a restart is treated as durable: it
        // then only spills to persistent tiers.
        h.durable ||= spec.persistent;
      }
    }
    for (const h of this.#copies.values()) h.recorded = this.#primary(h.tiers);
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
    return {
      name: this.#policy.name,
      fallbacks: this.#fallbacks,
      ...(this.#lastProblem === undefined ? {} : { lastProblem: this.#lastProblem }),
    };
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
    this.#moveListeners.add(listener);
    return () => this.#moveListeners.delete(listener);
  }

  /**
   * Asks the policy where a new copy goes. A policy that throws or answers
   * wrongly is reported and the default policy decides; `NodeFullError`
   * when the default finds no room either.
   */
  place(fragment: PlacedFragment, others: readonly NodeView[] = []): Placement {
    return this.#decide(fragment, this.#policy, undefined, others);
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
    return this.#withKey(key, () => this.#store(key, bytes, fragment, placement));
  }

  async #store(
    key: string,
    bytes: Uint8Array,
    fragment: PlacedFragment,
    placement: Placement | undefined,
  ): Promise<Stored> {
    let chosen = placement ?? this.place(fragment);
    const excluded = new Set<string>();
    for (let attempt = 0;; attempt++) {
      try {
        await this.#write(key, bytes, fragment, chosen);
        break;
      } catch (e) {
        if (!(e instanceof NoRoom)) throw e;
        if (chosen.policy !== this.#default.name) {
          this.#report(
            chosen.policy,
            `chose tier '${e.tier}', which could not make room even by spilling`,
            fragment,
          );
        } else if (excluded.has(e.tier) || attempt > this.#tiers.length) {
          throw this.#full(fragment);
        }
        // The room estimate was too hopeful for this tier: place again without its spill room.
        excluded.add(e.tier);
        chosen = this.#decide(fragment, this.#default, excluded);
      }
    }
    const h = this.#copies.get(key)!;
    h.recorded = this.#primary(h.tiers);
    return { ...chosen, primary: h.recorded, generation: h.generation };
  }

  /** The copy under `key` from the fastest tier holding it (and marks it used), or undefined. */
  async get(key: string): Promise<{ bytes: Uint8Array; tier: string } | undefined> {
    const found = await this.#read(key);
    if (found !== undefined) {
      const h = this.#copies.get(key);
      if (h !== undefined) this.#touch(h);
    }
    return found;
  }

  /** Whether some tier holds `key`. */
  holds(key: string): boolean {
    return this.#copies.has(key);
  }

  /** The tiers holding `key`, fastest first. */
  tiersOf(key: string): string[] {
    const h = this.#copies.get(key);
    if (h === undefined) return [];
    return this.#tiers.map((t) => t.spec.name).filter((n) => h.tiers.has(n));
  }

  /** The tier the registry should name for `key`, or undefined when no tier holds it. */
  primaryOf(key: string): string | undefined {
    const h = this.#copies.get(key);
    return h === undefined ? undefined : this.#primary(h.tiers);
  }

  /** Where the policy said reshapes of `key` run (`source` for copies found after a restart). */
  reshapeOf(key: string): ReshapeChoice | undefined {
    return this.#copies.get(key)?.reshape;
  }

  /** Whether the tier named `name` exists and keeps copies across restarts. */
  isPersistent(name: string): boolean | undefined {
    return this.#byName.get(name)?.spec.persistent;
  }

  /** Keys held that start with `prefix`. */
  keys(prefix = ""): string[] {
    const out: string[] = [];
    for (const [key, h] of this.#copies) {
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
    for (const [key, h] of this.#copies) {
      if (h.generation === 0 && h.busy === 0 && h.tiers.size > 0) out.push(key);
    }
    return out;
  }

  /** Removes every copy of `key` from every tier (its version was retired or never registered). */
  delete(key: string): Promise<void> {
    return this.#withKey(key, () => this.#delete(key));
  }

  /**
   * Removes `key` only if the bytes held are those of the store that
   * returned `generation` (a failed publish cleaning up after itself must
   * not remove a racing publish's bytes); returns whether it did.
   */
  deleteIf(key: string, generation: number): Promise<boolean> {
    return this.#withKey(key, async () => {
      if (this.#copies.get(key)?.generation !== generation) return false;
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
    const h = this.#copies.get(key);
    if (h === undefined) return undefined;
    for (const { tier, spec } of this.#tiers) {
      if (spec.kind !== "shm" || !h.tiers.has(spec.name)) continue;
      const pathOf = (tier as { pathOf?: (key: string) => string }).pathOf;
      if (pathOf !== undefined) return { tier: spec.name, path: pathOf.call(tier, key) };
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
    const h = this.#copies.get(key);
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
    return this.#copies.get(key)?.byteLength;
  }

  /**
   * The tier the registry names for a copy held on `tiers`: the most
   * durable (a backing tier, then another persistent one, then the fastest).
   */
  primaryAmong(tiers: readonly string[]): string {
    return this.#primary(tiers);
  }

  /**
   * Copies `key` to tier `name` as well (a flush to the backing tier),
   * spilling there if it must; returns false when the tier held it already.
   * `NodeFullError` when the tier cannot make room.
   */
  copyTo(key: string, name: string, fragment: PlacedFragment): Promise<boolean> {
    return this.#withKey(key, () => this.#copyTo(key, name, fragment));
  }

  async #copyTo(key: string, name: string, fragment: PlacedFragment): Promise<boolean> {
    const h = this.#copies.get(key);
    const target = this.#byName.get(name);
    if (h === undefined || target === undefined) return false;
    if (h.tiers.has(name)) return false;
    h.busy++;
    try {
      const found = await this.#read(key);
      if (found === undefined) return false;
      try {
        await this.#putWithRoom(name, key, found.bytes);
      } catch (e) {
        if (e instanceof NoRoom) throw this.#full(fragment, [name]);
        throw e;
      }
      if (this.#copies.get(key) !== h) {
        await target.tier.delete(key);
        return false;
      }
      this.#attach(h, name);
      await this.#announce(key, h);
      return true;
    } finally {
      h.busy--;
    }
  }

  /** Capacity, usage, copy count and speed of each tier, fastest first. */
  usage(): TierUsage[] {
    return this.#tiers.map(({ tier, spec }) => {
      const info = tier.info();
      return {
        ...info,
        free: Math.max(0, info.capacity - info.used),
        bandwidth: spec.bandwidth,
        latency: spec.latency,
      };
    });
  }

  /** What the policy sees of this node's tiers (`excluded` ones get no room from spilling). */
  views(excluded?: ReadonlySet<string>): TierView[] {
    const usage = this.usage();
    const views: TierView[] = [];
    let below = 0;
    // Room: free bytes, plus copies another tier also holds (dropped without a
    // move), plus what demoting the rest into the room of the tiers below
    // could free. An estimate: copies move whole, durable ones only to
    // persistent tiers; `excluded` tiers failed to make room for this copy.
    for (let i = usage.length - 1; i >= 0; i--) {
      const u = usage[i]!;
      const shared = Math.min(u.used, this.#shared.get(u.name) ?? 0);
      const room = excluded?.has(u.name)
        ? u.free
        : u.free + shared + Math.min(u.used - shared, below);
      views[i] = {
        name: u.name,
        kind: u.kind,
        capacity: u.capacity,
        used: u.used,
        free: u.free,
        room,
        bandwidth: u.bandwidth,
        latency: u.latency,
        persistent: u.persistent,
      };
      below = room;
    }
    return views;
  }

  #decide(
    fragment: PlacedFragment,
    policy: NamedPolicy,
    excluded?: ReadonlySet<string>,
    others: readonly NodeView[] = [],
  ): Placement {
    const request: PlacementRequest = {
      fragment,
      node: this.node,
      nodes: [{
        name: this.node,
        link: { bandwidth: Infinity, latency: 0 },
        tiers: this.views(excluded),
      }, ...others.filter((n) => n.name !== this.node)],
      sequence: this.#sequence++,
    };
    let problem: string;
    try {
      const checked = checkDecision(policy.place(request), request);
      if (checked.ok) {
        const { copies, reshape } = checked.decision;
        const here = copies.filter((c) => c.node === this.node).map((c) => c.tier);
        const remote = copies.filter((c) => c.node !== this.node);
        if (remote.length === 0) return { tiers: here, reshape, policy: policy.name };
        if (here.length > 0) return { tiers: here, remote, reshape, policy: policy.name };
        // Every copy goes elsewhere: the bytes stay here, where the default
        // policy puts them, until a remote copy holds them.
        const stage = this.#decide(fragment, this.#default, excluded);
        return { tiers: stage.tiers, remote, staged: true, reshape, policy: policy.name };
      }
      problem = checked.problem;
    } catch (e) {
      problem = `threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`;
    }
    if (policy === this.#default) throw this.#full(fragment);
    this.#report(policy.name, problem, fragment);
    return this.#decide(fragment, this.#default, excluded);
  }

  #report(policy: string, problem: string, fragment: PlacedFragment): void {
    this.#fallbacks++;
    const message = `Placement policy '${policy}' ${problem} for ${
      describe(fragment)
    }; placed by ${this.#default.name} instead`;
    this.#lastProblem = message;
    // The same fault repeats on every publish: log each distinct one once, count them all.
    const kind = `${policy}\0${problem}`;
    if (this.#reported.has(kind) || this.#reported.size >= REPORTED_PROBLEMS) return;
    this.#reported.add(kind);
    this.#log(message);
  }

  /** The 507 for a copy no tier (or none of `only`) can take, with each tier's usage. */
  #full(fragment: PlacedFragment, only?: readonly string[]): NodeFullError {
    const usage = this.usage().filter((u) => only === undefined || only.includes(u.name));
    const notes = usage.map((u) => ({ name: u.name, capacity: u.capacity, used: u.used }));
    const noPersistent = fragment.durable &&
      !usage.some((u) => u.persistent && u.capacity >= fragment.byteLength);
    return new NodeFullError(this.node, {
      what: describe(fragment),
      byteLength: fragment.byteLength,
      tiers: notes,
      detail: noPersistent
        ? "a durable fragment needs a persistent tier that can hold it"
        : undefined,
    });
  }

  async #write(
    key: string,
    bytes: Uint8Array,
    fragment: PlacedFragment,
    placement: Placement,
  ): Promise<void> {
    const before = this.#copies.get(key);
    const h = before ?? this.#holding(key, bytes.byteLength, fragment.durable);
    h.busy++;
    const written: string[] = [];
    try {
      for (const name of placement.tiers) {
        await this.#putWithRoom(name, key, bytes);
        written.push(name);
        if (this.#copies.get(key) === undefined) this.#copies.set(key, h);
        this.#attach(h, name);
      }
    } catch (e) {
      for (const name of written) {
        await this.#byName.get(name)!.tier.delete(key);
        this.#detach(h, name);
      }
      if (h.tiers.size === 0 && this.#copies.get(key) === h) this.#copies.delete(key);
      throw e;
    } finally {
      h.busy--;
    }
    h.durable = fragment.durable;
    h.reshape = placement.reshape;
    h.generation = ++this.#generation;
    this.#touch(h);
    // Tiers still holding an earlier publish of this key hold stale bytes.
    for (const name of [...h.tiers]) {
      if (placement.tiers.includes(name)) continue;
      this.#detach(h, name);
      await this.#byName.get(name)!.tier.delete(key);
    }
  }

  /** Puts a copy on tier `name`, spilling there first when it has no room; `NoRoom` when it cannot. */
  async #putWithRoom(name: string, key: string, bytes: Uint8Array): Promise<void> {
    const { tier, spec } = this.#byName.get(name)!;
    const size = bytes.byteLength;
    if (spec.capacity < size) throw new NoRoom(name);
    for (let attempt = 0; attempt < PUT_ATTEMPTS; attempt++) {
      if (spec.capacity - tier.info().used >= size) {
        try {
          return await tier.put(key, bytes);
        } catch (e) {
          if (!(e instanceof TierFullError)) throw e;
        }
      }
      const done = await this.#exclusive(async () => {
        if (spec.capacity - tier.info().used < size) {
          const moves = planSpill({
            tiers: this.#tiers.map(({ tier, spec }) => ({
              name: spec.name,
              capacity: spec.capacity,
              used: tier.info().used,
              persistent: spec.persistent,
            })),
            copies: (tier) => this.#spillCandidates(tier),
            tier: name,
            bytes: size,
            keep: new Set([key]),
          });
          if (moves === undefined) throw new NoRoom(name);
          await this.#demote(moves);
        }
        try {
          await tier.put(key, bytes);
          return true;
        } catch (e) {
          // Another writer took the room between the demotions and this put: try again.
          if (e instanceof TierFullError) return false;
          throw e;
        }
      });
      if (done) return;
    }
    throw new NoRoom(name);
  }

  /**
   * Carries out spill moves in order. This is where the spill invariant is
   * kept: a demoted copy is written to its new tier, and the index lists
   * it there, before it is deleted from the old one; a copy is dropped only
   * while another tier still holds it.
   */
  async #demote(moves: readonly SpillMove[]): Promise<void> {
    const announced: Promise<void>[] = [];
    try {
      for (const m of moves) {
        const h = this.#copies.get(m.key);
        if (h === undefined || !h.tiers.has(m.from) || h.busy > 0) continue;
        const from = this.#byName.get(m.from)!.tier;
        if (m.to === null) {
          if (h.tiers.size < 2) continue;
          this.#detach(h, m.from);
          await from.delete(m.key);
          continue;
        }
        const to = this.#byName.get(m.to)!.tier;
        let done!: () => void;
        h.moving = new Promise<void>((resolve) => done = resolve);
        try {
          const bytes = await from.get(m.key);
          if (bytes === undefined) continue;
          try {
            await to.put(m.key, bytes);
          } catch (e) {
            // A writer outside the lock took the room this plan counted on: stop, the
            // caller plans again from what the tiers hold now.
            if (e instanceof TierFullError) return;
            throw e;
          }
          this.#attach(h, m.to);
          announced.push(this.#announce(m.key, h));
          this.#detach(h, m.from);
          await from.delete(m.key);
        } finally {
          h.moving = undefined;
          done();
        }
      }
    } finally {
      await Promise.all(announced);
    }
  }

  /** Tells the listeners when a copy's primary tier changed. */
  async #announce(key: string, h: Holding): Promise<void> {
    const primary = this.#primary(h.tiers);
    if (primary === h.recorded) return;
    h.recorded = primary;
    for (const listener of this.#moveListeners) {
      try {
        await listener(key, primary);
      } catch (e) {
        this.#log(
          `Cannot record that '${key}' moved to tier '${primary}': ${
            e instanceof Error ? e.message : String(e)
          }`,
        );
      }
    }
  }

  /** The copies on `tier` the spill rule may move, least recently used first. */
  *#spillCandidates(tier: string): Generator<SpillCopy> {
    for (const h of this.#lru.get(tier)?.values() ?? []) {
      if (h.busy > 0) continue;
      yield {
        key: h.key,
        tier,
        byteLength: h.byteLength,
        lastUse: h.lastUse,
        durable: h.durable,
        alsoOn: h.tiers.size === 1 ? [] : [...h.tiers].filter((t) => t !== tier),
      };
    }
  }

  async #read(key: string): Promise<{ bytes: Uint8Array; tier: string } | undefined> {
    // A demotion may delete a copy between the index lookup and the read: look again.
    for (let attempt = 0; attempt < 3; attempt++) {
      const h = this.#copies.get(key);
      if (h === undefined) return undefined;
      for (const { tier, spec } of this.#tiers) {
        if (!h.tiers.has(spec.name)) continue;
        const bytes = await tier.get(key);
        if (bytes !== undefined) return { bytes, tier: spec.name };
      }
    }
    return undefined;
  }

  /** The most durable of `tiers`: backing, then other persistent tiers, then the fastest. */
  #primary(tiers: Iterable<string>): string {
    let best: { name: string; score: number } | undefined;
    for (const name of tiers) {
      const t = this.#byName.get(name);
      if (t === undefined) continue;
      const score = (t.spec.kind === "backing" ? 2000 : t.spec.persistent ? 1000 : 0) - t.rank;
      if (best === undefined || score > best.score) best = { name, score };
    }
    return best?.name ?? "";
  }

  /**
   * Marks a copy used now: it moves to the most recent end of each of its
   * tiers' LRU lists. A demoted copy joins its new tier at that end too,
   * so each tier demotes in the order copies were last used or arrived.
   */
  #touch(h: Holding): void {
    h.lastUse = ++this.#clock;
    for (const name of h.tiers) {
      const list = this.#lru.get(name)!;
      list.delete(h.key);
      list.set(h.key, h);
    }
  }

  /** Lists tier `name` as holding `h`'s key, keeping the shared-bytes counts. */
  #attach(h: Holding, name: string): void {
    if (h.tiers.has(name)) return;
    if (h.tiers.size === 1) { for (const other of h.tiers) this.#bump(other, h.byteLength); }
    if (h.tiers.size >= 1) this.#bump(name, h.byteLength);
    h.tiers.add(name);
    this.#lru.get(name)!.set(h.key, h);
  }

  /** Unlists tier `name` for `h`'s key, keeping the shared-bytes counts. */
  #detach(h: Holding, name: string): void {
    if (!h.tiers.delete(name)) return;
    this.#lru.get(name)!.delete(h.key);
    if (h.tiers.size >= 1) this.#bump(name, -h.byteLength);
    if (h.tiers.size === 1) { for (const other of h.tiers) this.#bump(other, -h.byteLength); }
  }

  #bump(name: string, bytes: number): void {
    this.#shared.set(name, (this.#shared.get(name) ?? 0) + bytes);
  }

  #holding(key: string, byteLength: number, durable: boolean): Holding {
    const h: Holding = {
      key,
      tiers: new Set(),
      byteLength,
      lastUse: 0,
      durable,
      reshape: "source",
      recorded: "",
      busy: 0,
      moving: undefined,
      generation: 0,
    };
    this.#copies.set(key, h);
    return h;
  }

  async #delete(key: string): Promise<void> {
    const h = this.#copies.get(key);
    if (h !== undefined) {
      while (h.moving !== undefined) await h.moving;
      for (const name of [...h.tiers]) this.#detach(h, name);
      if (this.#copies.get(key) === h) this.#copies.delete(key);
    }
    // Every tier, not only those indexed: nothing of the key may stay behind.
    for (const { tier } of this.#tiers) await tier.delete(key);
  }

  async #withKey<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const run = (this.#keyChains.get(key) ?? Promise.resolve()).then(fn);
    const tail = run.catch(() => {});
    this.#keyChains.set(key, tail);
    try {
      return await run;
    } finally {
      if (this.#keyChains.get(key) === tail) this.#keyChains.delete(key);
    }
  }

  async #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#lock.then(fn);
    this.#lock = run.catch(() => {});
    return await run;
  }
}

function describe(f: PlacedFragment): string {
  return `fragment '${f.fragment}' of version ${f.version} of '${f.dataset}'`;
}
