/**
 * The node runtime: holds fragment bytes in tiers, publishes them to the name
 * server, and serves attach by gathering the intersecting copies and running
 * the transform engine on them.
 *
 * @module
 */

import { crc32 } from "node:zlib";
import { ChecksumError, LostError, StrataError, UnavailableError } from "../errors.ts";
import type { Tier } from "../tiers/tier.ts";
import type { FragmentLayout } from "../transform/layout.ts";
import type { Plan } from "../transform/op.ts";
import { compilePlan } from "../transform/plan.ts";
import { executePlan } from "../transform/execute.ts";
import type { CopyRef } from "../wire/codec.ts";
import type { WireClient } from "../wire/client.ts";
import { coversWhole, cutLayout, type ReshapeAt, sameLayout } from "../wire/cut.ts";
import { copyKey, regionKey } from "./keys.ts";
import type { FragmentRecord, NameService, SourceRecord } from "./name_service.ts";
import { PeerDirectory } from "./peers.ts";

/** Options of a runtime. */
export interface RuntimeOptions {
  /** This node's name, as recorded with every copy it holds. */
  readonly node: string;
  /** The name server. */
  readonly names: NameService;
  /** The fast, volatile tier (memory). */
  readonly memory: Tier;
  /** The persistent tier (file) that durable datasets write through to. */
  readonly file: Tier;
  /** Compiled plans kept for reuse (default 256). */
  readonly planCacheSize?: number;
  /** The data plane client that fetches copies held by other nodes. */
  readonly wire?: WireClient;
  /** Where reshapes of remote copies run when an attach does not say (default `auto`). */
  readonly reshape?: ReshapeMode;
}

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

/**
 * A runtime on one node.
 *
 * Publish order: bytes are stored (and flushed to the file tier for durable
 * datasets) before the name server records them, so a recorded copy always
 * exists; if recording fails the stored bytes are removed again.
 */
export class Runtime {
  readonly node: string;
  readonly #names: NameService;
  readonly #memory: Tier;
  readonly #file: Tier;
  readonly #plans = new Map<string, Plan>();
  readonly #planCacheSize: number;
  readonly #wire: WireClient | undefined;
  readonly #peers: PeerDirectory;
  readonly #reshape: ReshapeMode;

  /** Creates a runtime over its tiers and name server. */
  constructor(options: RuntimeOptions) {
    this.node = options.node;
    this.#names = options.names;
    this.#memory = options.memory;
    this.#file = options.file;
    this.#planCacheSize = options.planCacheSize ?? 256;
    this.#wire = options.wire;
    this.#peers = new PeerDirectory(options.names);
    this.#reshape = options.reshape ?? "auto";
    // However a version is retired (an explicit commit, a publish that
    // completed a newer version, a batch) or a dataset deleted, the copies
    // this node holds are freed.
    this.#names.onRelease((copies) => {
      this.free(copies).catch(() => {});
    });
  }

  /** Bytes a fragment region takes: what a publish body must hold. */
  async expectedBytes(
    dataset: string,
    fragment: string,
    bindings: Readonly<Record<string, number>>,
  ): Promise<number> {
    return (await this.#names.fragmentLayout(dataset, fragment, bindings)).byteLength;
  }

  /** Stores and registers a fragment copy. */
  async publish(req: PublishRequest): Promise<{ committed: boolean; record: FragmentRecord }> {
    const settings = await this.#names.datasetSettings(req.dataset);
    const layout = await this.#names.fragmentLayout(req.dataset, req.fragment, req.bindings);
    if (req.bytes.byteLength !== layout.byteLength) {
      throw new StrataError(
        "size_mismatch",
        `Cannot publish fragment '${req.fragment}': expected ${layout.byteLength} bytes, received ${req.bytes.byteLength}`,
      );
    }
    const key = copyKey(req.dataset, req.version, req.fragment, req.bindings);
    const tier = settings.durable ? this.#file : this.#memory;
    const record: FragmentRecord = {
      dataset: req.dataset,
      version: req.version,
      fragment: req.fragment,
      bindings: { ...req.bindings },
      node: this.node,
      tier: tier.name,
      byteLength: req.bytes.byteLength,
      checksum: crc32(req.bytes),
    };
    const hadMemory = await this.#memory.has(key);
    const hadFile = await this.#file.has(key);
    if (hadMemory || hadFile) {
      // A copy under this key is registered already (or a publish of it is in flight):
      // let the name server decide (409 unless the dataset allows overwrite) before touching it.
      const result = await this.#names.publishFragment(record);
      await this.#store(key, req.bytes, settings.durable);
      return { committed: result.committed, record };
    }
    await this.#store(key, req.bytes, settings.durable);
    try {
      const result = await this.#names.publishFragment(record);
      return { committed: result.committed, record };
    } catch (e) {
      await this.#memory.delete(key);
      await this.#file.delete(key);
      throw e;
    }
  }

  /** Commits a version; the bytes of the versions retention retired are freed. */
  async commit(dataset: string, version: number): Promise<{ version: number; retired: number[] }> {
    const { retired } = await this.#names.commitVersion(dataset, version);
    await this.free(retired);
    return { version, retired: [...new Set(retired.map((r) => r.version))].sort((a, b) => a - b) };
  }

  /** Frees the bytes of copies this node holds (retired or deleted versions). */
  async free(records: readonly FragmentRecord[]): Promise<void> {
    for (const r of records) {
      if (r.node !== this.node) continue;
      const key = copyKey(r.dataset, r.version, r.fragment, r.bindings);
      await this.#memory.delete(key);
      await this.#file.delete(key);
    }
  }

  /** Attaches a fragment region of a committed version, in the fragment's layout. */
  async attach(req: AttachRequest): Promise<AttachResult> {
    let version = req.version;
    if (req.waitMs !== undefined) {
      const atLeast = version === "latest" ? 1 : version;
      version = await this.#names.waitForVersion(req.dataset, atLeast, { timeoutMs: req.waitMs });
    }
    const found = await this.#names.attachFragments({
      dataset: req.dataset,
      version,
      fragment: req.fragment,
      bindings: req.bindings,
    });
    const mode = req.reshape ?? this.#reshape;
    const settled = await Promise.allSettled(
      found.sources.map((s) =>
        s.node === this.node ? this.#readLocal(s) : this.#readRemote(s, found.layout, mode)
      ),
    );
    const parts = settled.map((r) => {
      if (r.status === "rejected") throw firstFailure(settled, found.version);
      return r.value;
    });
    if (parts.length === 1 && sameLayout(parts[0]!.layout, found.layout)) {
      // A single source already in the target layout (a whole copy, or a
      // reshape done at the source): no plan to run.
      return { version: found.version, layout: found.layout, bytes: parts[0]!.bytes };
    }
    const plan = this.#plan(parts.map((p) => p.layout), found.layout);
    const out = new Uint8Array(found.layout.byteLength);
    executePlan(plan, parts.map((p) => p.bytes), out);
    return { version: found.version, layout: found.layout, bytes: out };
  }

  /**
   * The data plane's side of this runtime: the bytes of a copy it holds,
   * laid out as a peer asked (`FragmentSource` of the wire server). A copy
   * sent as stored carries the checksum the name server recorded, which the
   * peer verifies; a reshaped copy is verified here first.
   */
  async produce(
    copy: CopyRef,
    want: FragmentLayout,
  ): Promise<{ readonly bytes: Uint8Array; readonly checksum: number }> {
    const key = copyKey(copy.dataset, copy.version, copy.fragment, copy.bindings);
    const bytes = (await this.#memory.get(key)) ?? (await this.#file.get(key));
    if (bytes === undefined) {
      throw new LostError(
        copy.dataset,
        copy.version,
        describeCopy(copy),
        `is not on node '${this.node}': it was held only in memory and is gone`,
      );
    }
    if (bytes.byteLength !== copy.byteLength) {
      throw new ChecksumError(key, copy.checksum, crc32(bytes));
    }
    if (sameLayout(want, copy.layout)) return { bytes, checksum: copy.checksum };
    const sum = crc32(bytes);
    if (sum !== copy.checksum) throw new ChecksumError(key, copy.checksum, sum);
    const out = new Uint8Array(want.byteLength);
    executePlan(this.#plan([copy.layout], want), [bytes], out);
    return { bytes: out, checksum: crc32(out) };
  }

  async #store(key: string, bytes: Uint8Array, durable: boolean): Promise<void> {
    if (durable) await this.#file.put(key, bytes);
    await this.#memory.put(key, bytes).catch((e) => {
      // A durable copy is on the file tier already; the memory copy is only a cache.
      if (!durable) throw e;
    });
  }

  async #readLocal(s: SourceRecord): Promise<Part> {
    const key = copyKey(s.dataset, s.version, s.fragment, s.bindings);
    const bytes = (await this.#memory.get(key)) ?? (await this.#file.get(key));
    if (bytes === undefined) {
      const where = s.tier === this.#file.name
        ? "is missing from the file tier"
        : "was held only in memory and is gone";
      throw new LostError(s.dataset, s.version, describeCopy(s), where);
    }
    const sum = crc32(bytes);
    if (bytes.byteLength !== s.byteLength || sum !== s.checksum) {
      throw new ChecksumError(key, s.checksum, sum);
    }
    return { layout: s.layout, bytes };
  }

  /** Fetches the part of a remote copy that `target` needs, reshaped where `mode` says. */
  async #readRemote(s: SourceRecord, target: FragmentLayout, mode: ReshapeMode): Promise<Part> {
    const peer = await this.#peers.peer(s.node);
    if (peer === undefined || this.#wire === undefined) {
      throw this.#unreachable(s, peer === undefined ? "down" : "no data plane");
    }
    const inTransit = cutLayout(s.layout, target, "destination");
    const inSitu = cutLayout(s.layout, target, "source");
    if (inTransit === undefined || inSitu === undefined) {
      // The registry found it intersecting; nothing of it is needed after all.
      return { layout: { byteLength: 0, slots: [] }, bytes: new Uint8Array(0) };
    }
    const at: ReshapeAt = mode === "auto"
      ? (inSitu.byteLength < inTransit.byteLength ? "source" : "destination")
      : mode;
    let want = at === "source" ? inSitu : inTransit;
    if (at === "source" && coversWhole(withNames(want, target), target)) want = target;
    else if (at === "destination" && coversWhole(want, s.layout)) want = s.layout;
    const copy: CopyRef = {
      dataset: s.dataset,
      version: s.version,
      fragment: s.fragment,
      bindings: s.bindings,
      layout: s.layout,
      byteLength: s.byteLength,
      checksum: s.checksum,
    };
    try {
      return { layout: want, bytes: await this.#wire.fetch(peer, copy, want) };
    } catch (e) {
      if (!(e instanceof UnavailableError)) throw e;
      // The node may have died, or restarted elsewhere, since the directory
      // was read: ask again, and try once more if it is up.
      this.#peers.forget(s.node);
      const again = await this.#peers.peer(s.node);
      if (again === undefined) throw this.#unreachable(s, "down");
      return { layout: want, bytes: await this.#wire.fetch(again, copy, want) };
    }
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
    if (s.tier === this.#file.name) {
      return new UnavailableError(
        `Fragment '${
          describeCopy(s)
        }' of version ${s.version} of '${s.dataset}' is on the file tier of node '${s.node}', which is down: it is served again when '${s.node}' restarts`,
      );
    }
    return new LostError(
      s.dataset,
      s.version,
      describeCopy(s),
      `was held only in memory by node '${s.node}', whose lease lapsed`,
    );
  }

  #plan(sources: readonly FragmentLayout[], target: FragmentLayout): Plan {
    const key = JSON.stringify([sources, target]);
    const hit = this.#plans.get(key);
    if (hit !== undefined) {
      this.#plans.delete(key);
      this.#plans.set(key, hit);
      return hit;
    }
    const plan = compilePlan(sources, target);
    this.#plans.set(key, plan);
    if (this.#plans.size > this.#planCacheSize) {
      this.#plans.delete(this.#plans.keys().next().value!);
    }
    return plan;
  }
}

/** Bytes in a layout: one source of an attach's plan. */
interface Part {
  readonly layout: FragmentLayout;
  readonly bytes: Uint8Array;
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
    const prefix =
      `Version ${first.version} of '${first.dataset}' is lost: fragment '${first.fragment}' `;
    const detail = first.message.startsWith(prefix) ? first.message.slice(prefix.length) : "";
    return new LostError(
      first.dataset,
      version,
      lost.map((e) => e.fragment).join("', '"),
      detail,
    );
  }
  return lost[0] ?? failures[0];
}
