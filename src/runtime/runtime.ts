/**
 * The node runtime: holds fragment bytes in tiers, publishes them to the name
 * server, and serves attach by gathering the intersecting copies and running
 * the transform engine on them.
 *
 * @module
 */

import {
  ChecksumError,
  ConflictError,
  DatasetReplacedError,
  DescriptionError,
  errorFromBody,
  InvalidRequestError,
  LayoutError,
  LostError,
  MissingRegionError,
  NotCommittedError,
  NotFoundError,
  SizeMismatchError,
  type StrataError,
  UnauthorizedError,
  UnavailableError,
} from "../errors.ts";
import type { NodeView, PlacedFragment, ReshapeChoice, TierView } from "../tiers/policy.ts";
import type { Placement, TierSet } from "../tiers/tier_set.ts";
import type { FragmentLayout } from "../transform/layout.ts";
import type { Plan } from "../transform/op.ts";
import { compilePlan } from "../transform/plan.ts";
import { executePlan } from "../transform/execute.ts";
import { overlaps } from "../transform/overlap.ts";
import type { CopyRef as WireCopyRef } from "../wire/codec.ts";
import type { Peer, WireClient } from "../wire/client.ts";
import type { Produced } from "../wire/server.ts";
import { coversWhole, cutLayout, type ReshapeAt, sameLayout } from "../wire/cut.ts";
import { copyKey, parseCopyKey, parseStagedKey, regionKey, stagedKey } from "../tiers/copy_keys.ts";
import type {
  CopyPlace,
  CopyRef,
  DatasetSettings,
  FragmentRecord,
  NameService,
  NodeEntry,
  SourceRecord,
} from "../name_service/name_service.ts";
import { PeerDirectory } from "./peers.ts";
import { PublishedSizes } from "./published_sizes.ts";
import { BufferPool } from "./buffer_pool.ts";
import { ChunkedRun, chunkPlan, type PlanChunk } from "./plan_chunks.ts";
import { checksum } from "./checksum.ts";
import { type Turn, Turns } from "./turns.ts";

/** Options of a runtime. */
export interface RuntimeOptions {
  /** This node's name, as recorded with every copy it holds (the tier set's node). */
  readonly node: string;
  /** The name server. */
  readonly names: NameService;
  /** This node's tiers and placement policy. */
  readonly tiers: TierSet;
  /** Compiled plans kept for reuse (default 256). */
  readonly planCacheSize?: number;
  /** The data plane client that fetches copies held by other nodes. */
  readonly wire?: WireClient;
  /**
   * Where reshapes of remote copies run when neither the attach nor the
   * copy's placement says (default `auto`).
   */
  readonly reshape?: ReshapeMode;
  /**
   * Asks another node to fetch a copy and keep it in one of its tiers (the
   * placement policy put a copy there). Default: `POST /v1/replicas` on the
   * node's HTTP API, with `token`.
   */
  readonly sendReplica?: SendReplica;
  /** Bearer token for the default `sendReplica`. */
  readonly token?: string;
  /**
   * The network link to other nodes as placement policies see it (default
   * 1 GB/s and 100 µs: loopback TCP on a small machine, measured lower than
   * memory so that a policy prefers local tiers it has room in).
   */
  readonly link?: { readonly bandwidth: number; readonly latency: number };
}

/** What a node is asked to replicate: a registered copy, and the tier to keep it in. */
export interface ReplicaRequest {
  /** The registered copy (its `node` holds the bytes). */
  readonly copy: FragmentRecord;
  /** The tier of the receiving node that should hold the replica. */
  readonly tier: string;
}

/**
 * Sends a replica request to another node and resolves once that node
 * holds the copy and has registered it.
 */
export type SendReplica = (target: NodeEntry, request: ReplicaRequest) => Promise<void>;

/**
 * Where the reshape of a remote copy runs: at the `source` (in situ), at the
 * `destination` (in transit), or `auto`: where fewer bytes cross the wire,
 * the destination on a tie (it spares the node that produces the data).
 */
export type ReshapeMode = ReshapeAt | "auto";

/** A publish request. */
export interface PublishRequest {
  /** Dataset name. */
  readonly dataset: string;
  /** Version number (>= 1). */
  readonly version: number;
  /** Fragment name, or `dataset` for the whole-dataset layout. */
  readonly fragment: string;
  /** Region parameters. */
  readonly bindings: Readonly<Record<string, number>>;
  /** The bytes, exactly the fragment's layout. The runtime keeps this buffer. */
  readonly bytes: Uint8Array;
}

/** An attach request. */
export interface AttachRequest {
  /** Dataset name. */
  readonly dataset: string;
  /** A version, or `latest`. */
  readonly version: number | "latest";
  /** Fragment name, or `dataset`. */
  readonly fragment: string;
  /** Region parameters. */
  readonly bindings: Readonly<Record<string, number>>;
  /** Wait this long for `version` or a later one to be committed. */
  readonly waitMs?: number;
  /** Where the reshape of copies held by other nodes runs (default: the runtime's). */
  readonly reshape?: ReshapeMode;
  /**
   * The creation time of the dataset the caller's layout was made from (its
   * `createdAt`): when the name server holds another dataset of that name
   * now (deleted and created again), the attach fails with
   * `DatasetReplacedError` before any byte is read.
   */
  readonly createdAt?: number;
  /**
   * Attach into this buffer instead of a new one: exactly the byte length of
   * the result's layout (else an `InvalidRequestError`, and nothing is
   * written), not a view of bytes a tier holds. The result's `bytes` is
   * `into`. When the attach fails later (a lost copy, a checksum mismatch),
   * `into` may hold part of the bytes and must not be used. Reusing one
   * buffer step after step spares a fresh allocation (and its page faults)
   * per attach.
   */
  readonly into?: Uint8Array;
}

/** Attached bytes. */
export interface AttachResult {
  /** The committed version they come from. */
  readonly version: number;
  /** Their layout. */
  readonly layout: FragmentLayout;
  /** The bytes. */
  readonly bytes: Uint8Array;
}

/** What a flush did. */
export interface FlushResult {
  /** Dataset name. */
  readonly dataset: string;
  /** Version flushed. */
  readonly version: number;
  /** The tier flushed to. */
  readonly tier: string;
  /** Copies of the version this node holds. */
  readonly copies: number;
  /** Of those, copies written to the tier now (the others were there already). */
  readonly written: number;
  /** Bytes of the copies of the version this node holds. */
  readonly bytes: number;
}

/**
 * A runtime on one node.
 *
 * Publish order: the placement policy picks the tiers, the bytes are stored
 * there (spilling least-recently-used copies down the tiers to make room)
 * before the name server records them, so a recorded copy always exists; if
 * recording fails the stored bytes are removed again. The record names the
 * copy's most durable tier, and is updated when a spill or a flush moves the
 * copy.
 */
export class Runtime {
  readonly node: string;
  /** This node's tiers. */
  readonly tiers: TierSet;
  readonly #names: NameService;
  readonly #plans = new Map<string, Plan>();
  /**
   * The last plan made for a target layout object, with its sources: repeated
   * attaches of one region pass the same layout objects, and finding them by
   * identity skips serialising layouts into a cache key.
   */
  readonly #lastPlans = new WeakMap<
    FragmentLayout,
    { readonly sources: readonly FragmentLayout[]; readonly plan: Plan }
  >();
  readonly #planCacheSize: number;
  readonly #wire: WireClient | undefined;
  readonly #peers: PeerDirectory;
  readonly #reshape: ReshapeMode;
  readonly #sendReplica: SendReplica;
  readonly #link: { readonly bandwidth: number; readonly latency: number };
  /** Scratch buffers of the data path: received parts that feed a plan, reshaped copies being sent. */
  readonly #scratch = new BufferPool();
  /** Publishes in line to be registered, by dataset. */
  readonly #turns = new Turns();
  /** Cached plans cut into pieces by source offset (the plan cache keeps the plans). */
  readonly #planChunks = new WeakMap<Plan, PlanChunk[]>();
  /** Staged copies (`stagedKey`) the tiers hold, by the copy key they stand beside. */
  readonly #staged = new Map<string, Set<string>>();
  /** Sizes read from published bytes (datasets whose sizes differ per version). */
  readonly #sizes = new PublishedSizes();
  /** Unsubscribes from the name service's release notices and the tiers' moves. */
  readonly #listening: (() => unknown)[] = [];

  /** Creates a runtime over its tiers and name server. */
  constructor(options: RuntimeOptions) {
    if (options.tiers.node !== options.node) {
      throw new TypeError(
        `Runtime of node '${options.node}' given the tiers of node '${options.tiers.node}'`,
      );
    }
    this.node = options.node;
    this.#names = options.names;
    this.tiers = options.tiers;
    this.#planCacheSize = options.planCacheSize ?? 256;
    this.#wire = options.wire;
    this.#peers = new PeerDirectory(options.names);
    this.#reshape = options.reshape ?? "auto";
    this.#sendReplica = options.sendReplica ?? httpReplica(options.token);
    this.#link = options.link ?? { bandwidth: 1e9, latency: 1e-4 };
    // Staged copies a crash left behind: readers may need them (#stored).
    for (const key of this.tiers.keys()) this.#noteStaged(key);
    // However a version is retired (an explicit commit, a publish that
    // completed a newer version, a batch) or a dataset deleted, the copies
    // this node holds are freed.
    this.#listening.push(this.#names.onRelease((copies) => {
      this.free(copies).catch(() => {});
    }));
    // A spill or a flush moved a copy: the registry names its new tier.
    this.#listening.push(this.tiers.onMove(async (key, tier) => {
      const copy = parseCopyKey(key);
      if (copy !== undefined) {
        await this.#names.relocateFragment({ ...copy, node: this.node }, tier);
      }
    }));
  }

  /**
   * Stops hearing release notices and tier moves, and drops the cached
   * plans. The tiers, the name service and the data
   * plane client it was given stay open: whoever opened them closes them.
   * Closing again does nothing.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { openRegistry } from "../registry/registry.ts";
   * import { openMemoryAndFile } from "../tiers/memory_and_file.ts";
   * import { Runtime } from "./runtime.ts";
   * await Deno.mkdir("tmp", { recursive: true });
   * const dir = await Deno.makeTempDir({ dir: "tmp" });
   * await using registry = await openRegistry({ path: ":memory:" });
   * const tiers = await openMemoryAndFile({ node: "n1", dataDir: dir, memory: 1024, file: 4096 });
   * {
   *   await using runtime = new Runtime({ node: "n1", names: registry, tiers });
   *   assert.equal(runtime.node, "n1");
   * } // closed here
   * await Deno.remove(dir, { recursive: true });
   * ```
   */
  close(): Promise<void> {
    for (const stop of this.#listening.splice(0)) stop();
    this.#plans.clear();
    return Promise.resolve();
  }

  /** Closes the runtime (`await using`); see `close()`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /**
   * Bytes a fragment region of `version` takes: what a publish body must
   * hold. Undefined when its layout depends on a size that the version does
   * not hold yet: the bytes give it (`publish()` reads and checks it).
   */
  async expectedBytes(
    dataset: string,
    fragment: string,
    bindings: Readonly<Record<string, number>>,
    version?: number,
  ): Promise<number | undefined> {
    const settings = await this.#names.datasetSettings(dataset);
    if (settings.description !== undefined) {
      const known = version === undefined ? {} : await this.#names.versionSizes(dataset, version);
      const sized = this.#sizes.layoutBindings(settings, { fragment, bindings }, known);
      if (sized === undefined) return undefined;
      bindings = sized;
    }
    return (await this.#names.fragmentLayout(dataset, fragment, bindings)).byteLength;
  }

  /**
   * Stores a fragment copy where the placement policy says and registers it.
   * `NodeFullError` (507) when no tier can make room for it. Concurrent
   * publishes of a dataset are registered in the order they were called.
   */
  async publish(req: PublishRequest): Promise<{ committed: boolean; record: FragmentRecord }> {
    // Their CRC-32s may finish in another order: the turn keeps the versions
    // of a producer that publishes ahead committing in its order.
    const turn = this.#turns.take(req.dataset);
    try {
      return await this.#publish(req, turn);
    } finally {
      turn.end();
    }
  }

  /** Registers a copy once the publishes of its dataset called before have asked for theirs. */
  async #register(record: FragmentRecord, turn: Turn): Promise<{ readonly committed: boolean }> {
    await turn.ready;
    const registered = this.#names.publishFragment(record);
    turn.end();
    return await registered;
  }

  async #publish(
    req: PublishRequest,
    turn: Turn,
  ): Promise<{ committed: boolean; record: FragmentRecord }> {
    const settings = await this.#names.datasetSettings(req.dataset);
    // Sizes read from the bytes are named in the copy's bindings (and key).
    const bindings = settings.description === undefined ? req.bindings : this.#sizes.bindingsOf(
      settings,
      req,
      req.bytes,
      await this.#names.versionSizes(req.dataset, req.version),
    );
    const layout = await this.#names.fragmentLayout(req.dataset, req.fragment, bindings);
    if (req.bytes.byteLength !== layout.byteLength) {
      throw new SizeMismatchError(req.fragment, layout.byteLength, req.bytes.byteLength);
    }
    const key = copyKey(req.dataset, req.version, req.fragment, bindings);
    const placed = placedFragment({ ...req, bindings }, settings);
    // The CRC-32 runs in pieces while the copy is placed and stored, so the
    // data plane keeps serving earlier versions meanwhile.
    const sum = checksum(req.bytes);
    const copy = {
      dataset: req.dataset,
      version: req.version,
      fragment: req.fragment,
      bindings: { ...bindings },
      node: this.node,
      byteLength: req.bytes.byteLength,
    };
    if (this.tiers.holds(key)) {
      return await this.#overwrite(key, req.bytes, copy, placed, sum, turn);
    }
    const placement = this.tiers.place(placed, await this.#otherNodes());
    const stored = await this.tiers.store(key, req.bytes, placed, placement);
    const record: FragmentRecord = {
      ...copy,
      checksum: await sum,
      tier: stored.primary,
      // Without a site, each attach decides (`auto`).
      ...(placement.reshape === "auto" ? {} : { reshape: placement.reshape }),
    };
    let committed: boolean;
    try {
      committed = (await this.#register(record, turn)).committed;
    } catch (e) {
      // Only our bytes (a racing publish of the same region may have stored
      // its own since), and only when the name server surely did not record
      // them: a record it may have written must find its bytes.
      if (refused(e)) await this.tiers.deleteIf(key, stored.generation);
      throw e;
    }
    const settled = await this.#settle(record, this.tiers.primaryOf(key));
    return { committed, record: await this.#replicate(settled, placement) };
  }

  /**
   * Publishes a copy of a key the tiers hold already (an overwrite, or a
   * publish racing one of the same region). The old bytes stay under the key
   * until the record names the new ones, which wait meanwhile under their
   * staged key (`stagedKey`): at every moment, and after a crash at any
   * point, the bytes the registry's record names are on a tier, and readers
   * find them by the record's checksum (`#stored`). Order: 1. the new bytes
   * are stored under the staged key; 2. the copy is registered (the name
   * server refuses it unless the dataset allows overwrite); 3. the new bytes
   * replace the old under the key; 4. the staged copy is removed.
   */
  async #overwrite(
    key: string,
    bytes: Uint8Array,
    copy: Omit<FragmentRecord, "checksum" | "tier">,
    placed: PlacedFragment,
    sum: Promise<number>,
    turn: Turn,
  ): Promise<{ committed: boolean; record: FragmentRecord }> {
    const placement = this.tiers.place(placed);
    const checksum = await sum;
    const staged = stagedKey(key, checksum);
    const early = await this.tiers.store(staged, bytes, placed, placement);
    this.#noteStaged(staged);
    const record: FragmentRecord = { ...copy, checksum, tier: early.primary };
    let committed: boolean;
    try {
      committed = (await this.#register(record, turn)).committed;
    } catch (e) {
      if (refused(e) && await this.tiers.deleteIf(staged, early.generation)) {
        this.#forgetStaged(staged);
      }
      throw e;
    }
    const stored = await this.tiers.store(key, bytes, placed, placement);
    if (await this.tiers.deleteIf(staged, early.generation)) this.#forgetStaged(staged);
    return { committed, record: await this.#settle(record, stored.primary) };
  }

  /**
   * Places the copies the policy put on other nodes: each node fetches the
   * bytes from this one over the data plane, stores them and registers its
   * replica. A copy that only stood in here is then dropped, once another
   * is registered. A node that fails keeps nothing and the copy stays here:
   * the failure is logged, never a loss.
   */
  async #replicate(record: FragmentRecord, placement: Placement): Promise<FragmentRecord> {
    const remote = placement.remote ?? [];
    if (remote.length === 0) return record;
    const settled = await Promise.allSettled(remote.map(async (c) => {
      const target = await this.#peers.entry(c.node);
      if (target === undefined) throw new UnavailableError(`node '${c.node}' is down`);
      await this.#sendReplica(target, { copy: record, tier: c.tier });
      return c;
    }));
    const placed: CopyPlace[] = [];
    settled.forEach((r, i) => {
      if (r.status === "fulfilled") placed.push({ node: r.value.node, tier: r.value.tier });
      else {
        const c = remote[i]!;
        console.warn(
          `strata: Copy of ${
            describeCopy(record)
          } of version ${record.version} of '${record.dataset}' on tier '${c.tier}' of node '${c.node}' failed (${
            (r.reason as Error)?.message ?? r.reason
          }); the copy on node '${this.node}' stays`,
        );
      }
    });
    let out: FragmentRecord = placed.length === 0 ? record : { ...record, replicas: placed };
    if (placement.staged && placed.length > 0 && await this.#names.dropCopy(record)) {
      await this.#delete(copyKey(record.dataset, record.version, record.fragment, record.bindings));
      const [first, ...rest] = placed;
      const { replicas: _, ...base } = out;
      out = {
        ...base,
        node: first!.node,
        tier: first!.tier,
        ...(rest.length ? { replicas: rest } : {}),
      };
    }
    return out;
  }

  /**
   * Fetches a registered copy from the node holding it, keeps it in `tier`
   * of this node (spilling as needed; another tier of this node when that
   * one cannot make room) and registers it as a replica. The bytes are
   * checked against the recorded checksum on the way. `ConflictError` when
   * the copy is no longer registered (nothing is kept).
   */
  async replicate(request: ReplicaRequest): Promise<{ tier: string }> {
    const { copy, tier } = request;
    if (copy.node === this.node) {
      throw new InvalidRequestError(
        `Cannot replicate ${
          describeCopy(copy)
        } onto node '${this.node}': it holds the copy already`,
      );
    }
    if (!this.tiers.specs.some((t) => t.name === tier)) {
      throw new InvalidRequestError(
        `Cannot replicate onto tier '${tier}': node '${this.node}' has no such tier (it has ${
          this.tiers.specs.map((t) => t.name).join(", ")
        })`,
      );
    }
    const settings = await this.#names.datasetSettings(copy.dataset);
    const layout = await this.#names.fragmentLayout(copy.dataset, copy.fragment, copy.bindings);
    const source: SourceRecord = { ...copy, layout };
    const { bytes } = await this.#readRemote(source, layout, "destination", (want) => ({
      bytes: new Uint8Array(want.byteLength),
      pooled: false,
    }));
    const key = copyKey(copy.dataset, copy.version, copy.fragment, copy.bindings);
    const placed = placedFragment({ ...copy, bytes }, settings);
    const stored = await this.tiers.store(key, bytes, placed, {
      tiers: [tier],
      reshape: copy.reshape ?? "auto",
      policy: this.tiers.policy.name,
    });
    let added: boolean;
    try {
      added = await this.#names.addReplica({ ...copy, node: this.node }, stored.primary);
    } catch (e) {
      // A replica the name server may have recorded keeps its bytes.
      if (refused(e)) await this.tiers.deleteIf(key, stored.generation);
      throw e;
    }
    if (!added) await this.tiers.deleteIf(key, stored.generation);
    if (!added) {
      throw new ConflictError(
        `Cannot replicate ${
          describeCopy(copy)
        } of version ${copy.version} of '${copy.dataset}': it is not registered any more`,
      );
    }
    return { tier: stored.primary };
  }

  /** Other live nodes that report their tiers, as a placement policy sees them. */
  async #otherNodes(): Promise<NodeView[]> {
    const out: NodeView[] = [];
    for (const n of await this.#peers.nodes()) {
      if (n.id === this.node || n.wire === undefined || n.tiers === undefined) continue;
      const tiers: TierView[] = [];
      for (const t of n.tiers) {
        if (
          t.kind === undefined || t.used === undefined || t.bandwidth === undefined ||
          t.latency === undefined || t.persistent === undefined
        ) continue;
        const free = t.free ?? Math.max(0, t.capacity - t.used);
        tiers.push({
          name: t.name,
          kind: t.kind as TierView["kind"],
          capacity: t.capacity,
          used: t.used,
          free,
          room: t.room ?? free,
          bandwidth: t.bandwidth,
          latency: t.latency,
          persistent: t.persistent,
        });
      }
      if (tiers.length > 0) out.push({ name: n.id, link: this.#link, tiers });
    }
    return out;
  }

  /** Where the policy placed a copy this node holds, and where its reshapes run. */
  placementOf(
    copy: Omit<CopyRef, "node">,
  ): { tiers: string[]; reshape: ReshapeChoice } | undefined {
    const key = copyKey(copy.dataset, copy.version, copy.fragment, copy.bindings);
    const reshape = this.tiers.reshapeOf(key);
    return reshape === undefined ? undefined : { tiers: this.tiers.tiersOf(key), reshape };
  }

  /**
   * Writes every copy of a version this node holds to the backing tier (or
   * `tier`, which must be persistent) as well, so that the version survives
   * this runtime and is found again when a runtime restarts over the same
   * backing directory. `NotFoundError` when the node holds no copy of it,
   * `NodeFullError` when the tier cannot make room.
   */
  async flush(
    dataset: string,
    version: number,
    options: { readonly tier?: string } = {},
  ): Promise<FlushResult> {
    const settings = await this.#names.datasetSettings(dataset);
    const specs = this.tiers.specs;
    const target = options.tier === undefined
      ? specs.find((s) => s.kind === "backing")
      : specs.find((s) => s.name === options.tier);
    if (target === undefined) {
      throw new InvalidRequestError(
        options.tier === undefined
          ? `Cannot flush on node '${this.node}': it has no backing tier (it has ${
            specs.map((s) => s.name).join(", ")
          })`
          : `Cannot flush to tier '${options.tier}': node '${this.node}' has no such tier (it has ${
            specs.map((s) => s.name).join(", ")
          })`,
      );
    }
    if (!target.persistent) {
      throw new InvalidRequestError(
        `Cannot flush to tier '${target.name}': it does not keep copies across restarts`,
      );
    }
    const keys = this.tiers.keys(`${dataset}/${version}/`).filter((k) => !parseStagedKey(k));
    if (keys.length === 0) {
      throw new NotFoundError(
        `Version ${version} of '${dataset}' has no copies on node '${this.node}'`,
      );
    }
    let written = 0;
    let bytes = 0;
    for (const key of keys) {
      const copy = parseCopyKey(key);
      if (copy === undefined) continue;
      const size = this.tiers.sizeOf(key) ?? 0;
      const placed = placedFragment({ ...copy, bytes: { byteLength: size } }, settings);
      // A staged copy goes first: after a crash, the copy its record names is there.
      for (const staged of this.#staged.get(key) ?? []) {
        await this.tiers.copyTo(staged, target.name, placed);
      }
      if (await this.tiers.copyTo(key, target.name, placed)) written++;
      bytes += size;
    }
    return { dataset, version, tier: target.name, copies: keys.length, written, bytes };
  }

  /** Makes the registry name `tier` for a just-registered copy when a spill moved it meanwhile. */
  async #settle(record: FragmentRecord, tier: string | undefined): Promise<FragmentRecord> {
    if (tier === undefined || tier === record.tier) return record;
    await this.#names.relocateFragment(record, tier);
    return { ...record, tier };
  }

  /** Commits a version; the bytes of the versions retention retired are freed. */
  async commit(dataset: string, version: number): Promise<{ version: number; retired: number[] }> {
    const { retired } = await this.#names.commitVersion(dataset, version);
    await this.free(retired);
    return { version, retired: [...new Set(retired.map((r) => r.version))].sort((a, b) => a - b) };
  }

  /**
   * Frees the copies found on this node's tiers at start that the name
   * servers do not count as held by it: bytes stored by a publish or a
   * replica fetch that the process died before registering, or whose
   * release notice never reached it. A copy written again since the start
   * is never touched (its bytes are a new store's). Returns the keys freed.
   */
  async reconcile(): Promise<string[]> {
    const keys: string[] = [];
    const refs: CopyRef[] = [];
    for (const key of this.tiers.foundAtOpen()) {
      const parsed = parseCopyKey(key);
      if (parsed === undefined) continue;
      keys.push(key);
      refs.push({ ...parsed, node: this.node });
    }
    const freed: string[] = [];
    for (let at = 0; at < refs.length; at += RECONCILE_BATCH) {
      const held = await this.#names.heldCopies(refs.slice(at, at + RECONCILE_BATCH));
      for (let i = 0; i < held.length; i++) {
        const key = keys[at + i]!;
        if (!held[i] && await this.tiers.deleteIf(key, 0)) {
          // Staged copies beside it are never named by a record either.
          for (const staged of this.#staged.get(key) ?? []) await this.tiers.delete(staged);
          this.#staged.delete(key);
          freed.push(key);
        }
      }
    }
    return freed;
  }

  /** Frees the bytes of copies this node holds (retired or deleted versions), on every tier. */
  async free(records: readonly FragmentRecord[]): Promise<void> {
    for (const r of records) {
      if (r.node !== this.node && !r.replicas?.some((p) => p.node === this.node)) continue;
      await this.#delete(copyKey(r.dataset, r.version, r.fragment, r.bindings));
    }
  }

  /** Removes a copy from every tier, with the staged copies beside it. */
  async #delete(key: string): Promise<void> {
    await this.tiers.delete(key);
    for (const staged of this.#staged.get(key) ?? []) await this.tiers.delete(staged);
    this.#staged.delete(key);
  }

  /** Indexes `key` when it is a staged copy's. */
  #noteStaged(key: string): void {
    const parsed = parseStagedKey(key);
    if (parsed === undefined) return;
    let set = this.#staged.get(parsed.key);
    if (set === undefined) this.#staged.set(parsed.key, set = new Set());
    set.add(key);
  }

  #forgetStaged(key: string): void {
    const parsed = parseStagedKey(key);
    const set = parsed === undefined ? undefined : this.#staged.get(parsed.key);
    set?.delete(key);
    if (set?.size === 0) this.#staged.delete(parsed!.key);
  }

  /**
   * The bytes of copy `key` whose record names `checksum`: the staged copy
   * of those bytes while an overwrite is under way (or a crash interrupted
   * one), else the copy under the key.
   */
  async #stored(key: string, checksum: number): Promise<Uint8Array | undefined> {
    const staged = stagedKey(key, checksum);
    if (this.#staged.get(key)?.has(staged)) {
      const found = await this.tiers.get(staged);
      if (found !== undefined) return found.bytes;
    }
    return (await this.tiers.get(key))?.bytes;
  }

  /**
   * Where a fragment region of a committed version is, without reading it:
   * the version an attach would serve, the fragment's layout and the copies
   * that hold it (a same-node mapping of a copy's file starts here).
   */
  locate(
    req: Pick<AttachRequest, "dataset" | "version" | "fragment" | "bindings" | "waitMs">,
  ): ReturnType<NameService["attachFragments"]> {
    return this.#lookup(req, req.fragment, req.bindings);
  }

  /** Attaches a fragment region of a committed version, in the fragment's layout. */
  async attach(req: AttachRequest): Promise<AttachResult> {
    const found = await this.#lookup(req, req.fragment, req.bindings);
    return await this.#gather(found.version, found.sources, found.layout, req);
  }

  /**
   * Attaches a layout that the dataset's description does not name, such as
   * a transform function's declared input (a fragment of another description
   * of the same variables), from the copies of a committed version that
   * intersect it.
   */
  async attachLayout(
    req: Omit<AttachRequest, "fragment" | "bindings">,
    layout: FragmentLayout,
  ): Promise<AttachResult> {
    const found = await this.#lookup(req, "dataset", {});
    const sources = found.sources.filter((s) => overlaps(s.layout, layout));
    return await this.#gather(found.version, sources, layout, req);
  }

  /**
   * The name server's answer for an attach. With a wait, the name server
   * looks the version up and, when it is not committed yet, waits for it in
   * the same call: a consumer waiting for its next version makes one round
   * trip, not a lookup, a wait and a lookup again.
   */
  async #lookup(
    req: Pick<AttachRequest, "dataset" | "version" | "waitMs" | "createdAt">,
    fragment: string,
    bindings: Readonly<Record<string, number>>,
  ): ReturnType<NameService["attachFragments"]> {
    const query = { dataset: req.dataset, version: req.version, fragment, bindings };
    const found = req.waitMs === undefined
      ? await this.#names.attachFragments(query)
      : await this.#names.attachFragments(query, { waitMs: req.waitMs });
    if (
      req.createdAt !== undefined && found.createdAt !== undefined &&
      found.createdAt !== req.createdAt
    ) {
      throw new DatasetReplacedError(req.dataset, req.createdAt, found.createdAt);
    }
    return found;
  }

  /**
   * Builds `layout` from `sources`: local copies read from the tiers, remote
   * ones fetched over the data plane (reshaped where `reshape` says), into
   * `into` when given. Remote parts that only feed the plan arrive in pooled
   * scratch buffers, returned to the pool once the plan has run: the steady
   * state of a streaming consumer allocates nothing (bench/streaming_bench.ts).
   */
  async #gather(
    version: number,
    sources: readonly SourceRecord[],
    layout: FragmentLayout,
    req: Pick<AttachRequest, "reshape" | "into">,
  ): Promise<AttachResult> {
    const into = req.into;
    if (into !== undefined && into.byteLength !== layout.byteLength) {
      throw new InvalidRequestError(
        `Cannot attach version ${version} of '${
          sources[0]?.dataset ?? "the dataset"
        }' into a buffer of ${into.byteLength} bytes: expected ${layout.byteLength}`,
      );
    }
    // `auto` here: the copy's placement, else the runtime's setting, decides (#readRemote).
    const mode = req.reshape ?? "auto";
    // A single remote source that arrives in the target layout (a whole copy,
    // or a reshape done at the source) needs no plan: it is received straight
    // into the result. A local copy is always copied out, since callers may
    // transfer or change the buffer they get and the tier's copy must stay intact.
    const direct = sources.length === 1 && !holdsHere(sources[0]!, this.node);
    const sink = (want: FragmentLayout): Sink => {
      if (!direct) return { bytes: this.#scratch.take(want.byteLength), pooled: true };
      if (sameLayout(want, layout)) {
        return { bytes: into ?? new Uint8Array(want.byteLength), pooled: false };
      }
      // The only part, to be reshaped: the plan runs piece by piece while
      // the rest of the part is still on the wire.
      const chunks = this.#chunks(this.#plan([want], layout));
      const bytes = this.#scratch.take(want.byteLength);
      const result = into ?? new Uint8Array(layout.byteLength);
      return { bytes, pooled: true, result, run: () => new ChunkedRun(chunks, bytes, result) };
    };
    const settled = await Promise.allSettled(
      sources.map((s) => this.#readAny(s, layout, mode, sink, into)),
    );
    const parts = settled.flatMap((r) => r.status === "fulfilled" ? [r.value] : []);
    try {
      if (parts.length < settled.length) throw firstFailure(settled, version);
      if (parts.length === 1 && parts[0]!.result !== undefined) {
        return { version, layout, bytes: parts[0]!.result };
      }
      if (
        parts.length === 1 && !parts[0]!.pooled && direct && sameLayout(parts[0]!.layout, layout)
      ) {
        return { version, layout, bytes: parts[0]!.bytes };
      }
      const plan = this.#plan(parts.map((p) => p.layout), layout);
      const out = into ?? new Uint8Array(layout.byteLength);
      executePlan(plan, parts.map((p) => p.bytes), out);
      return { version, layout, bytes: out };
    } finally {
      for (const p of parts) if (p.pooled) this.#scratch.give(p.bytes);
    }
  }

  /**
   * The data plane's side of this runtime: the bytes of a copy it holds,
   * laid out as a peer asked (`FragmentSource` of the wire server). A copy
   * sent as stored carries the checksum the name server recorded, which the
   * peer verifies; a reshaped copy is verified here first.
   */
  async produce(copy: WireCopyRef, want: FragmentLayout): Promise<Produced> {
    const key = copyKey(copy.dataset, copy.version, copy.fragment, copy.bindings);
    const bytes = await this.#stored(key, copy.checksum);
    if (bytes === undefined) {
      throw new LostError(
        copy.dataset,
        copy.version,
        describeCopy(copy),
        `is not on node '${this.node}': it was held only in memory and is gone`,
        { node: this.node },
      );
    }
    if (bytes.byteLength !== copy.byteLength) {
      throw this.#corrupt(copy, this.node, `${bytes.byteLength} bytes, not ${copy.byteLength}`);
    }
    if (sameLayout(want, copy.layout)) return { bytes, checksum: copy.checksum };
    const sum = await checksum(bytes);
    if (sum !== copy.checksum) {
      throw this.#corrupt(copy, this.node, new ChecksumError(key, copy.checksum, sum).message);
    }
    // A scratch buffer, back in the pool once the server has written it.
    const out = this.#scratch.take(want.byteLength);
    try {
      executePlan(this.#plan([copy.layout], want), [bytes], out);
      return { bytes: out, checksum: await checksum(out), release: () => this.#scratch.give(out) };
    } catch (e) {
      this.#scratch.give(out);
      throw e;
    }
  }

  /**
   * Reads a copy from this node when it holds one (the primary copy or a
   * replica), else from the node of the primary copy, then from the
   * replicas' nodes in turn while the ones before are down or lost it.
   */
  async #readAny(
    s: SourceRecord,
    target: FragmentLayout,
    mode: ReshapeMode,
    sink: (want: FragmentLayout) => Sink,
    into: Uint8Array | undefined,
  ): Promise<Part> {
    const places: CopyPlace[] = [{ node: s.node, tier: s.tier }, ...(s.replicas ?? [])];
    const own = places.find((p) => p.node === this.node);
    const order = own === undefined ? places : [own, ...places.filter((p) => p !== own)];
    let failure: unknown;
    for (const p of order) {
      const at = { ...s, node: p.node, tier: p.tier };
      try {
        return p.node === this.node
          ? await this.#readLocal(at, into)
          : await this.#readRemote(at, target, mode, sink);
      } catch (e) {
        // A copy lost here or at its node (a `LostError` from its data plane
        // arrives as one), or a node that does not answer: try the next place.
        if (!(e instanceof LostError || e instanceof UnavailableError)) throw e;
        failure ??= e;
      }
    }
    throw failure;
  }

  async #readLocal(s: SourceRecord, into: Uint8Array | undefined): Promise<Part> {
    const key = copyKey(s.dataset, s.version, s.fragment, s.bindings);
    const bytes = await this.#stored(key, s.checksum);
    if (bytes === undefined) {
      throw new LostError(s.dataset, s.version, describeCopy(s), this.#whyGone(s.tier), {
        node: this.node,
      });
    }
    const sum = await checksum(bytes);
    if (bytes.byteLength !== s.byteLength || sum !== s.checksum) {
      throw this.#corrupt(s, this.node, new ChecksumError(key, s.checksum, sum).message);
    }
    if (into !== undefined && into.buffer === bytes.buffer) {
      throw new InvalidRequestError(
        `Cannot attach into a buffer that shares memory with copy '${key}' on node '${this.node}'`,
      );
    }
    return { layout: s.layout, bytes, pooled: false };
  }

  /**
   * Fetches the part of a remote copy that `target` needs, reshaped where
   * `mode` says, into the buffer `sink` gives for its layout.
   */
  async #readRemote(
    s: SourceRecord,
    target: FragmentLayout,
    mode: ReshapeMode,
    sink: (want: FragmentLayout) => Sink,
  ): Promise<Part> {
    const peer = await this.#peers.peer(s.node);
    if (peer === undefined || this.#wire === undefined) {
      throw this.#unreachable(s, peer === undefined ? "down" : "no data plane");
    }
    const inTransit = cutLayout(s.layout, target, "destination");
    const inSitu = cutLayout(s.layout, target, "source");
    if (inTransit === undefined || inSitu === undefined) {
      // The registry found it intersecting; nothing of it is needed after all.
      return { layout: { byteLength: 0, slots: [] }, bytes: new Uint8Array(0), pooled: false };
    }
    // The attach's own choice, else where the placement policy said, else the runtime's default.
    const chosen = mode === "auto" ? (s.reshape ?? this.#reshape) : mode;
    const at: ReshapeAt = chosen === "auto"
      ? (inSitu.byteLength < inTransit.byteLength ? "source" : "destination")
      : chosen;
    let want = at === "source" ? inSitu : inTransit;
    if (at === "source" && coversWhole(withNames(want, target), target)) want = target;
    else if (at === "destination" && coversWhole(want, s.layout)) want = s.layout;
    const copy: WireCopyRef = {
      dataset: s.dataset,
      version: s.version,
      fragment: s.fragment,
      bindings: s.bindings,
      layout: s.layout,
      byteLength: s.byteLength,
      checksum: s.checksum,
    };
    const dest = sink(want);
    try {
      return await this.#fetch(s, peer, copy, want, dest);
    } catch (e) {
      // Nothing reads into it any more: the fetch has settled.
      if (dest.pooled) this.#scratch.give(dest.bytes);
      throw e;
    }
  }

  /** One fetch of a remote part into `sink`, tried again once when its node seems gone. */
  async #fetch(
    s: SourceRecord,
    peer: Peer,
    copy: WireCopyRef,
    want: FragmentLayout,
    sink: Sink,
  ): Promise<Part> {
    const wire = this.#wire!;
    // Each attempt reshapes from its own bytes: nothing of a failed one counts.
    const attempt = async (at: Peer) => {
      const run = sink.run?.();
      await wire.fetch(at, copy, want, { into: sink.bytes, onData: (n) => run?.advance(n) });
      run?.finish();
    };
    try {
      await attempt(peer);
    } catch (e) {
      if (mismatch(e)) {
        // Bytes spoiled on the way are fetched again; a second mismatch means
        // the holder's bytes are spoiled: the copy is lost, never served.
        try {
          await attempt(peer);
        } catch (again) {
          if (mismatch(again)) throw this.#corrupt(s, s.node, (again as Error).message);
          throw again;
        }
      } else {
        if (!(e instanceof UnavailableError)) throw e;
        // The node may have died, or restarted elsewhere, since the directory
        // was read: ask again, and try once more if it is up.
        this.#peers.forget(s.node);
        const again = await this.#peers.peer(s.node);
        if (again === undefined) throw this.#unreachable(s, "down");
        await attempt(again);
      }
    }
    const part = { layout: want, bytes: sink.bytes, pooled: sink.pooled };
    return sink.result === undefined ? part : { ...part, result: sink.result };
  }

  /**
   * The error for a copy whose bytes on `node` do not match its record: that
   * copy is lost (its bytes are never served), and an attach tries the
   * copy's other places before it fails with this.
   */
  #corrupt(
    c: Pick<FragmentRecord, "dataset" | "version" | "fragment" | "bindings">,
    node: string,
    detail: string,
  ): LostError {
    return new LostError(
      c.dataset,
      c.version,
      describeCopy(c),
      `held by node '${node}' does not match its record (${detail}): its bytes are never served`,
      { node },
    );
  }

  /** The error for a copy on a node that cannot serve it. */
  #unreachable(s: SourceRecord, why: "down" | "no data plane"): StrataError {
    if (why === "no data plane") {
      return new UnavailableError(
        `Fragment '${
          describeCopy(s)
        }' of version ${s.version} of '${s.dataset}' is on node '${s.node}', and this runtime has no data plane to fetch it`,
      );
    }
    // Another node's tiers are declared in its own config: a tier of the
    // same name here, or the persistent kinds' usual names, say whether it keeps copies.
    const spec = this.tiers.specs.find((t) => t.name === s.tier);
    if (spec?.persistent ?? (s.tier === "file" || s.tier === "backing")) {
      return new UnavailableError(
        `Fragment '${
          describeCopy(s)
        }' of version ${s.version} of '${s.dataset}' is on the ${s.tier} tier of node '${s.node}', which is down: it is served again when '${s.node}' restarts`,
      );
    }
    return new LostError(
      s.dataset,
      s.version,
      describeCopy(s),
      `was held only in memory by node '${s.node}', whose lease lapsed`,
      { node: s.node },
    );
  }

  /** Why no tier holds a registered copy, from the tier its record names. */
  #whyGone(tier: string): string {
    const spec = this.tiers.specs.find((t) => t.name === tier);
    if (spec === undefined) return `was on tier '${tier}', which node '${this.node}' no longer has`;
    if (spec.persistent) return `is missing from the ${tier} tier`;
    if (spec.kind === "memory") return "was held only in memory and is gone";
    return `was held only in the volatile ${tier} tier and is gone`;
  }

  /** A plan's pieces for reshaping a part as it arrives (about 1 MiB of it each). */
  #chunks(plan: Plan): PlanChunk[] {
    let chunks = this.#planChunks.get(plan);
    if (chunks === undefined) {
      chunks = chunkPlan(plan, CHUNK_BYTES);
      this.#planChunks.set(plan, chunks);
    }
    return chunks;
  }

  #plan(sources: readonly FragmentLayout[], target: FragmentLayout): Plan {
    const last = this.#lastPlans.get(target);
    if (
      last !== undefined && last.sources.length === sources.length &&
      last.sources.every((s, i) => s === sources[i])
    ) {
      return last.plan;
    }
    const key = JSON.stringify([sources, target]);
    let plan = this.#plans.get(key);
    if (plan !== undefined) {
      this.#plans.delete(key);
    } else {
      plan = compilePlan(sources, target);
      if (this.#plans.size >= this.#planCacheSize) {
        this.#plans.delete(this.#plans.keys().next().value!);
      }
    }
    this.#plans.set(key, plan);
    this.#lastPlans.set(target, { sources: [...sources], plan });
    return plan;
  }
}

/**
 * Source bytes per piece of a reshape that runs while its part arrives: a
 * few reads' worth, so that each piece runs soon after its bytes are there
 * (bench/streaming_bench.ts).
 */
const CHUNK_BYTES = 1 << 20;
/** Copies asked about per request when a restarted runtime reconciles its tiers. */
const RECONCILE_BATCH = 1000;

/** Bytes in a layout: one source of an attach's plan. */
interface Part {
  readonly layout: FragmentLayout;
  readonly bytes: Uint8Array;
  /** Whether `bytes` is a scratch buffer of the runtime's pool. */
  readonly pooled: boolean;
  /** The attach's result, when the part was reshaped into it as it arrived. */
  readonly result?: Uint8Array;
}

/** Whether `e` says bytes did not match their checksum, here or at the peer. */
function mismatch(e: unknown): boolean {
  return e instanceof ChecksumError;
}

/** Whether `node` holds a copy of `s`: the primary copy or a replica. */
function holdsHere(s: FragmentRecord, node: string): boolean {
  return s.node === node || (s.replicas?.some((p) => p.node === node) ?? false);
}

/** Where a remote part is received. */
interface Sink {
  readonly bytes: Uint8Array;
  readonly pooled: boolean;
  /** The attach's result, when the part is reshaped into it as it arrives. */
  readonly result?: Uint8Array;
  /** That reshape, started afresh for each attempt to fetch the part. */
  readonly run?: () => ChunkedRun;
}

/** The default `SendReplica`: `POST /v1/replicas` on the target's HTTP API. */
function httpReplica(token: string | undefined): SendReplica {
  return async (target, request) => {
    const res = await fetch(new URL("/v1/replicas", target.url), {
      method: "POST",
      headers: {
        "content-type": "application/json",
        ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
      },
      body: JSON.stringify(request),
    });
    const body = await res.json().catch(() => undefined) as { error?: unknown } | undefined;
    if (!res.ok) {
      // The class the target threw, with its fields.
      throw errorFromBody(body?.error) ??
        new UnavailableError(`node '${target.id}' answered ${res.status}`);
    }
  };
}

/** `rows (r0=0,r1=4)`: a fragment copy named for messages. */
function describeCopy(c: { fragment: string; bindings: Readonly<Record<string, number>> }): string {
  const region = regionKey(c.bindings);
  return region === "" ? c.fragment : `${c.fragment} (${region})`;
}

/** A cut with the target's slot names, to compare it with the target. */
function withNames(cut: FragmentLayout, target: FragmentLayout): FragmentLayout {
  if (cut.slots.length !== target.slots.length) return cut;
  return { ...cut, slots: cut.slots.map((s, i) => ({ ...s, name: target.slots[i]!.name })) };
}

/**
 * The error of an attach whose sources failed: every lost copy named in one
 * `LostError`, or else the first failure.
 */
function firstFailure(settled: PromiseSettledResult<unknown>[], version: number): unknown {
  const failures = settled.flatMap((r) => r.status === "rejected" ? [r.reason] : []);
  const lost = failures.filter((e): e is LostError => e instanceof LostError);
  if (lost.length > 1) {
    const first = lost[0]!;
    return new LostError(
      first.dataset,
      version,
      lost.map((e) => e.fragment).join("', '"),
      first.detail,
    );
  }
  return lost[0] ?? failures[0];
}

/**
 * Whether a failed registration surely wrote nothing: the name server
 * answered with a refusal. A name server that did not answer, or failed
 * on its side, may have recorded the copy: its bytes must stay.
 */
function refused(e: unknown): boolean {
  return REFUSALS.some((refusal) => e instanceof refusal);
}

/** The errors of a name server's answers that refuse a registration outright. */
const REFUSALS: readonly (abstract new (...args: never[]) => StrataError)[] = [
  ConflictError,
  NotFoundError,
  SizeMismatchError,
  LayoutError,
  InvalidRequestError,
  DescriptionError,
  MissingRegionError,
  NotCommittedError,
  UnauthorizedError,
];

function placedFragment(
  req: Omit<PublishRequest, "bytes"> & { readonly bytes: { readonly byteLength: number } },
  settings: DatasetSettings,
): PlacedFragment {
  return {
    dataset: req.dataset,
    version: req.version,
    fragment: req.fragment,
    bindings: req.bindings,
    byteLength: req.bytes.byteLength,
    durable: settings.durable,
    consumers: settings.consumers ?? [],
  };
}
