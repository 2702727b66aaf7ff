/**
 * The node runtime: holds fragment bytes in tiers, publishes them to the name
 * server, and serves attach by gathering the intersecting copies and running
 * the transform engine on them. `Runtime` composes the parts: publish
 * (`_publish.ts`), replicas (`_replicas.ts`), the attach read path
 * (`_attach.ts`, `_read_remote.ts`), the data plane's side (`_produce.ts`),
 * flush (`_flush.ts`) and reconcile (`_reconcile.ts`), over the plan cache
 * (`plan_cache.ts`), staged copies (`staged_copies.ts`) and per-version
 * sizes (`published_sizes.ts`).
 *
 * @module
 */

import type { ReshapeChoice } from "../tiers/policy.ts";
import type { TierSet } from "../tiers/tier_set.ts";
import type { FragmentLayout } from "../transform/layout.ts";
import { overlaps } from "../transform/overlap.ts";
import type { WireCopy } from "../wire/codec.ts";
import type { WireClient } from "../wire/client.ts";
import type { Produced } from "../wire/server.ts";
import { copyKey, parseCopyKey } from "../tiers/copy_keys.ts";
import type {
  CopyRef,
  FragmentRecord,
  NameService,
  ReleasedCopy,
  SubscribeQuery,
} from "../name_service/name_service.ts";
import { LostError, NotFoundError, UnavailableError } from "../errors.ts";
import { sendReplicaOverHttp } from "./replica_client.ts";
import { BufferPool } from "./buffer_pool.ts";
import { PeerDirectory } from "./peers.ts";
import { PlanCache } from "./plan_cache.ts";
import { PublishedSizes } from "./published_sizes.ts";
import { StagedCopies } from "./staged_copies.ts";
import type { RuntimeCore } from "./_core.ts";
import { AnswerCache, type SharedAnswer } from "./answer_cache.ts";
import { AttachReader } from "./_attach.ts";
import { VersionStream, type VersionStreamOptions } from "./version_stream.ts";
import { flushVersion } from "./_flush.ts";
import { produce } from "./_produce.ts";
import { type FilePublishRequest, Publisher } from "./_publish.ts";
import { RemoteReader } from "./_read_remote.ts";
import { reconcile, RECONCILE_BATCH } from "./_reconcile.ts";
import { Replicas } from "./_replicas.ts";
import type {
  AttachedBytes,
  AttachRequest,
  FlushResult,
  PublishRequest,
  ReplicaRequest,
  RuntimeOptions,
} from "./requests.ts";

export type { SharedAnswer } from "./answer_cache.ts";
export type { StreamedVersion, VersionStream, VersionStreamOptions } from "./version_stream.ts";
export type {
  AttachedBytes,
  AttachRequest,
  FlushResult,
  PublishRequest,
  ReplicaRequest,
  ReshapeMode,
  RuntimeOptions,
  SendReplica,
} from "./requests.ts";
import { metrics } from "../observe/mod.ts";

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
  readonly #core: RuntimeCore;
  readonly #publisher: Publisher;
  readonly #replicas: Replicas;
  readonly #reader: AttachReader;
  /** Unsubscribes from the name service's release notices and the tiers' moves. */
  readonly #listening: (() => unknown)[] = [];
  /** Sizes read from published bytes (datasets whose sizes differ per version). */
  readonly #sizes = new PublishedSizes();
  /** Small answers of committed versions, served again without a read (`attachShared`). */
  readonly #answers = new AnswerCache();
  /** The data plane client, when this runtime has peers. */
  readonly #wire: WireClient | undefined;

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
    this.#core = {
      node: options.node,
      names: options.names,
      tiers: options.tiers,
      peers: new PeerDirectory(options.names),
      staged: new StagedCopies(options.tiers),
      plans: new PlanCache(options.planCacheSize ?? 256),
      scratch: new BufferPool(),
    };
    this.#wire = options.wire;
    const remote = new RemoteReader(this.#core, options.wire, options.reshape ?? "auto");
    this.#replicas = new Replicas(
      this.#core,
      options.sendReplica ?? sendReplicaOverHttp(options.token),
      remote,
    );
    this.#publisher = new Publisher(this.#core, {
      sizes: this.#sizes,
      replicas: this.#replicas,
      link: options.link ?? { bandwidth: 1e9, latency: 1e-4 },
    });
    this.#reader = new AttachReader(this.#core, remote);
    this.#listen();
  }

  /** Notes staged copies a crash left behind, and hears release notices and tier moves. */
  #listen(): void {
    // Staged copies a crash left behind: readers may need them (StagedCopies.read).
    for (const key of this.tiers.keys()) this.#core.staged.note(key);
    // However a version is retired (an explicit commit, a publish that
    // completed a newer version, a batch) or a dataset deleted, the copies
    // this node holds are freed.
    this.#listening.push(this.#names.onRelease((copies, replayed) => {
      (replayed ? this.#stillReleased(copies) : Promise.resolve(copies))
        .then((gone) => this.free(gone))
        .catch(() => {});
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
   * The copies of replayed notices that the registry does not name on this
   * node any more: a notice read again after a restart may name a key that
   * a newer copy took since (a dataset deleted and created again, the same
   * version published here), whose bytes must stay.
   */
  async #stillReleased(copies: readonly ReleasedCopy[]): Promise<ReleasedCopy[]> {
    const mine = copies.filter((c) =>
      c.node === this.node || c.replicas?.some((p) => p.node === this.node)
    );
    const refs = mine.map((c) => ({
      dataset: c.dataset,
      version: c.version,
      fragment: c.fragment,
      bindings: c.bindings,
      node: this.node,
    }));
    const held: boolean[] = [];
    for (let at = 0; at < refs.length; at += RECONCILE_BATCH) {
      held.push(...await this.#names.heldCopies(refs.slice(at, at + RECONCILE_BATCH)));
    }
    const keep = new Set(mine.filter((_, i) => held[i]));
    return copies.filter((c) => !keep.has(c));
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
    this.#core.plans.clear();
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
    const published = await this.#publisher.publish(req);
    metrics.publishedBytes.inc(req.bytes.byteLength);
    return published;
  }

  /**
   * Publishes the copy a file of this node holds (a publish staged in an
   * shm tier, `POST /v1/stages/:stage`), as `publish` publishes bytes: the
   * tiers copy the file, or take it by renaming it into the shm tier whose
   * directory holds it, without reading it into memory. A file left at its
   * path is the caller's to remove; it must not change meanwhile.
   */
  async publishFile(
    req: FilePublishRequest,
  ): Promise<{ committed: boolean; record: FragmentRecord }> {
    const published = await this.#publisher.publishFile(req);
    metrics.publishedBytes.inc(req.file.byteLength);
    return published;
  }

  /**
   * Fetches a registered copy from the node holding it, keeps it in `tier`
   * of this node (spilling as needed; another tier of this node when that
   * one cannot make room) and registers it as a replica. The bytes are
   * checked against the recorded checksum on the way. `ConflictError` when
   * the copy is no longer registered (nothing is kept).
   */
  replicate(request: ReplicaRequest): Promise<{ tier: string }> {
    return this.#replicas.receive(request);
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
  flush(
    dataset: string,
    version: number,
    options: { readonly tier?: string } = {},
  ): Promise<FlushResult> {
    return flushVersion(this.#core, dataset, version, options);
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
  reconcile(): Promise<string[]> {
    return reconcile(this.#core);
  }

  /** Frees the bytes of copies this node holds (retired or deleted versions), on every tier. */
  async free(records: readonly ReleasedCopy[]): Promise<void> {
    for (const r of records) {
      this.#answers.drop(r.dataset, r.version);
      if (r.node !== this.node && !r.replicas?.some((p) => p.node === this.node)) continue;
      await this.#core.staged.deleteWith(copyKey(r.dataset, r.version, r.fragment, r.bindings));
    }
  }

  /**
   * Where a fragment region of a committed version is, without reading it:
   * the version an attach would serve, the fragment's layout and the copies
   * that hold it (a same-node mapping of a copy's file starts here).
   */
  locate(
    req: Pick<AttachRequest, "dataset" | "version" | "fragment" | "bindings" | "waitMs">,
  ): ReturnType<NameService["attachFragments"]> {
    return this.#reader.lookup(req, req.fragment, req.bindings);
  }

  /** Attaches a fragment region of a committed version, in the fragment's layout. */
  async attach(req: AttachRequest): Promise<AttachedBytes> {
    const found = await this.#reader.lookup(req, req.fragment, req.bindings);
    const attached = await this.#reader.gather(found.version, found.sources, found.layout, req);
    metrics.attachedBytes.inc(attached.bytes.byteLength);
    return attached;
  }

  /**
   * Attaches a fragment region of a committed version, answering with bytes
   * that callers share and never write to (an HTTP response body). The
   * version is looked up as by `attach`; a small answer of a version it has
   * answered before comes from memory, with no tier read, checksum or
   * reshape (bench/wrk_bench.ts measures it against `/v1/health`).
   */
  async attachShared(req: Omit<AttachRequest, "into">): Promise<SharedAnswer> {
    const found = await this.#reader.lookup(req, req.fragment, req.bindings);
    const key = found.createdAt === undefined || !this.#answers.keeps(found.layout.byteLength)
      ? undefined
      : { ...req, createdAt: found.createdAt, version: found.version };
    const kept = key === undefined ? undefined : this.#answers.get(key);
    if (kept !== undefined) return kept;
    const { bytes } = await this.#reader.gather(found.version, found.sources, found.layout, {
      ...req,
      shared: true,
    });
    const answer = {
      version: found.version,
      layout: found.layout,
      bytes: bytes as Uint8Array<ArrayBuffer>,
      layoutJson: JSON.stringify(found.layout),
    };
    if (key !== undefined) this.#answers.put(key, answer);
    return answer;
  }

  /**
   * Subscribes to a fragment region of a dataset: the name server pushes
   * each commit from `query.from` on with its copy list (through a queue of
   * at most `query.limit` versions, then `query.policy`: drop the oldest or
   * fail), and the stream fetches up to `ahead` versions while the
   * application works on the one it took (bench/streaming_bench.ts).
   * `UnavailableError` when the name service cannot push.
   */
  subscribe(
    query: SubscribeQuery,
    options: VersionStreamOptions = {},
  ): VersionStream {
    const names = this.#core.names;
    if (names.subscribe === undefined) {
      throw new UnavailableError("This runtime's name service cannot push commits");
    }
    return new VersionStream(
      names.subscribe(query),
      async (n) => {
        try {
          return await this.#reader.gatherLater(n.version, n.sources, n.layout, {});
        } catch (e) {
          if (!(e instanceof LostError)) throw e;
        }
        // The copies the push named may have moved since the commit (a
        // spill, an overwrite, a replica): ask where the version is now,
        // and call it lost only when it is no longer there.
        let found;
        try {
          found = await this.#reader.lookup(
            { dataset: query.dataset, version: n.version },
            query.fragment,
            query.bindings,
          );
        } catch (e) {
          if (!(e instanceof NotFoundError)) throw e;
          throw new LostError(
            query.dataset,
            n.version,
            query.fragment,
            "was retired before the stream fetched it",
          );
        }
        return await this.#reader.gatherLater(found.version, found.sources, n.layout, {});
      },
      {
        dataset: query.dataset,
        // A subscription waits for a dataset created later: a typo in its
        // name is otherwise silent until the wait runs out.
        whyNothing: async () => {
          try {
            await names.datasetSettings(query.dataset);
            return undefined;
          } catch (e) {
            if (!(e instanceof NotFoundError)) return undefined;
            return `no dataset '${query.dataset}' exists yet (a subscription waits for it to be created; is its name right?)`;
          }
        },
        ...options,
      },
    );
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
  ): Promise<AttachedBytes> {
    const found = await this.#reader.lookup(req, "dataset", {});
    const sources = found.sources.filter((s) => overlaps(s.layout, layout));
    const attached = await this.#reader.gather(found.version, sources, layout, req);
    metrics.attachedBytes.inc(attached.bytes.byteLength);
    return attached;
  }

  /**
   * The data plane's side of this runtime: the bytes of a copy it holds,
   * laid out as a peer asked (`FragmentSource` of the wire server). A copy
   * sent as stored carries the checksum the name server recorded, which the
   * peer verifies; a reshaped copy is verified here first.
   */
  produce(copy: WireCopy, want: FragmentLayout): Promise<Produced> {
    return produce(this.#core, copy, want);
  }

  /**
   * The bytes of blob `id` of `service` that node `node` keeps in its tiers,
   * fetched over the data plane and checked against `checksum` as they
   * arrive. `UnavailableError` naming the node when it is down or has no
   * data plane; `LostError` (410) when it no longer holds the blob.
   */
  async fetchBlob(
    node: string,
    blob: { service: string; id: string; byteLength: number; checksum: number },
  ): Promise<Uint8Array> {
    const peer = await this.#core.peers.peer(node);
    if (peer === undefined || this.#wire === undefined) {
      throw new UnavailableError(
        `Node '${node}' holding blob ${blob.id} of service '${blob.service}' is ${
          peer === undefined ? "down" : "out of reach: this runtime has no data plane"
        }`,
        { fields: { node, service: blob.service, blob: blob.id } },
      );
    }
    // The blob as one array of bytes: the data plane sends it as stored.
    const layout: FragmentLayout = {
      byteLength: blob.byteLength,
      slots: [{
        name: "bytes",
        variable: "bytes",
        origin: [0],
        axes: [{ dim: 0, step: 1, count: blob.byteLength }],
        fields: [{ path: "", type: "uint8", count: 1, offset: 0, strides: [1] }],
      }],
    };
    const copy: WireCopy = {
      dataset: `~${blob.service}`,
      version: 0,
      fragment: blob.id,
      bindings: {},
      layout,
      byteLength: blob.byteLength,
      checksum: blob.checksum,
    };
    const bytes = await this.#wire.fetch(peer, copy, layout);
    metrics.attachedBytes.inc(bytes.byteLength);
    return bytes;
  }
}
