/**
 * The node runtime: holds fragment bytes in tiers, publishes them to the name
 * server, and serves attach by gathering the intersecting copies and running
 * the transform engine on them.
 *
 * @module
 */

import { crc32 } from "node:zlib";
import { ChecksumError, LostError, StrataError } from "../errors.ts";
import type { Tier } from "../tiers/tier.ts";
import type { FragmentLayout } from "../transform/layout.ts";
import type { Plan } from "../transform/op.ts";
import { compilePlan } from "../transform/plan.ts";
import { executePlan } from "../transform/execute.ts";
import { overlaps } from "../registry/coverage.ts";
import { copyKey } from "./keys.ts";
import type { FragmentRecord, NameService, SourceRecord } from "./name_service.ts";

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
}

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

  /** Creates a runtime over its tiers and name server. */
  constructor(options: RuntimeOptions) {
    this.node = options.node;
    this.#names = options.names;
    this.#memory = options.memory;
    this.#file = options.file;
    this.#planCacheSize = options.planCacheSize ?? 256;
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
    const found = await this.#names.attachFragments({
      dataset: req.dataset,
      version: await this.#version(req),
      fragment: req.fragment,
      bindings: req.bindings,
    });
    return await this.#gather(found.version, found.sources, found.layout);
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
    const found = await this.#names.attachFragments({
      dataset: req.dataset,
      version: await this.#version(req),
      fragment: "dataset",
      bindings: {},
    });
    const sources = found.sources.filter((s) => overlaps(s.layout, layout));
    return await this.#gather(found.version, sources, layout);
  }

  async #version(
    req: { dataset: string; version: number | "latest"; waitMs?: number },
  ): Promise<number | "latest"> {
    if (req.waitMs === undefined) return req.version;
    const atLeast = req.version === "latest" ? 1 : req.version;
    return await this.#names.waitForVersion(req.dataset, atLeast, { timeoutMs: req.waitMs });
  }

  async #gather(
    version: number,
    sources: readonly SourceRecord[],
    layout: FragmentLayout,
  ): Promise<AttachResult> {
    const bytes = await Promise.all(sources.map((s) => this.#read(s)));
    const plan = this.#plan(sources.map((s) => s.layout), layout);
    const out = new Uint8Array(layout.byteLength);
    executePlan(plan, bytes, out);
    return { version, layout, bytes: out };
  }

  async #store(key: string, bytes: Uint8Array, durable: boolean): Promise<void> {
    if (durable) await this.#file.put(key, bytes);
    await this.#memory.put(key, bytes).catch((e) => {
      // A durable copy is on the file tier already; the memory copy is only a cache.
      if (!durable) throw e;
    });
  }

  async #read(s: SourceRecord): Promise<Uint8Array> {
    if (s.node !== this.node) {
      throw new LostError(
        s.dataset,
        s.version,
        s.fragment,
        `is on node '${s.node}', which this runtime cannot reach`,
      );
    }
    const key = copyKey(s.dataset, s.version, s.fragment, s.bindings);
    const bytes = (await this.#memory.get(key)) ?? (await this.#file.get(key));
    if (bytes === undefined) {
      const where = s.tier === this.#file.name
        ? "is missing from the file tier"
        : "was held only in memory and is gone";
      throw new LostError(s.dataset, s.version, s.fragment, where);
    }
    const sum = crc32(bytes);
    if (bytes.byteLength !== s.byteLength || sum !== s.checksum) {
      throw new ChecksumError(key, s.checksum, sum);
    }
    return bytes;
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
