/**
 * The registry: datasets, versions, published fragment locations and nodes in
 * Deno KV, with atomic version commits and group-committed writes.
 *
 * @module
 */

import {
  compileDescription,
  type Dataset,
  datasetLayout,
  descriptionFromJson,
  fragmentLayout,
  printDescription,
} from "../ddl/mod.ts";
import {
  ConflictError,
  LostError,
  NotCommittedError,
  NotFoundError,
  StrataError,
  WaitTimeoutError,
} from "../errors.ts";
import { regionKey } from "../runtime/keys.ts";
import type {
  DatasetSettings,
  FragmentRecord,
  NameService,
  SourceRecord,
} from "../runtime/name_service.ts";
import type { CreateDatasetInput } from "../api/catalog.ts";
import type { FragmentLayout } from "../transform/layout.ts";
import { type Gap, gaps, overlaps, subtractLayout } from "./coverage.ts";
import { GroupCommitter, type Mutation } from "./group_commit.ts";
import {
  type DatasetRecord,
  KEYS,
  type NodeRecord,
  type VersionRecord,
  type VersionState,
} from "./records.ts";

/** Options of `openRegistry()`. */
export interface RegistryOptions {
  /** Path of the KV file, or `:memory:` (tests only). */
  readonly path: string;
  /** Committed versions a dataset keeps when it does not say (default 2). */
  readonly defaultRetention?: number;
}

interface Held {
  record: FragmentRecord;
  layout: FragmentLayout;
  /** Whether the record's write has committed (only durable records count). */
  durable: boolean;
}

interface VersionEntry {
  version: number;
  state: VersionState;
  /** What the durable publishes do not cover yet (undefined: not computed). */
  gaps?: Gap[];
  committedAt?: number;
  readonly held: Map<string, Held>;
  readonly inflight: Set<Promise<unknown>>;
}

interface DatasetEntry {
  readonly record: DatasetRecord;
  readonly ds: Dataset;
  readonly whole: FragmentLayout;
  readonly versions: Map<number, VersionEntry>;
  latest: number;
  /** Serialises commits of this dataset. */
  commitChain: Promise<unknown>;
  readonly waiters: Set<{ atLeast: number; resolve: (v: number) => void }>;
}

const NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,127}$/;

/**
 * Opens (or creates) a registry on a KV file and loads its state.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { openRegistry } from "./registry.ts";
 * await using reg = await openRegistry({ path: ":memory:" });
 * await reg.createDataset({ name: "t", description: "dataset { var x [4]float64 }" });
 * const { committed } = await reg.publishFragment({
 *   dataset: "t", version: 1, fragment: "dataset", bindings: {}, node: "n", tier: "memory", byteLength: 32, checksum: 0,
 * });
 * assert.equal(committed, true);
 * ```
 */
export async function openRegistry(options: RegistryOptions): Promise<Registry> {
  const kv = await Deno.openKv(options.path);
  const reg = new Registry(kv, options.defaultRetention ?? 2);
  await reg.load();
  return reg;
}

/**
 * The registry of one name server. It assumes it is the only writer of its KV
 * store (one name server per shard): conflicts between concurrent calls are
 * decided in memory, exactly, and every write is durable before its caller is
 * answered. Version commits also check-and-set in KV.
 */
export class Registry implements NameService {
  readonly #kv: Deno.Kv;
  readonly #writes: GroupCommitter;
  readonly #datasets = new Map<string, DatasetEntry>();
  readonly #creating = new Set<string>();
  readonly #defaultRetention: number;
  #closed = false;

  /** Creates a registry over an open KV store; prefer `openRegistry()`. */
  constructor(kv: Deno.Kv, defaultRetention: number) {
    this.#kv = kv;
    this.#writes = new GroupCommitter(kv);
    this.#defaultRetention = defaultRetention;
  }

  /** Atomic commits and writes so far (group-commit efficiency). */
  get stats(): { commits: number; writes: number } {
    return { commits: this.#writes.commits, writes: this.#writes.writes };
  }

  /** Loads every dataset, version and fragment record from KV. */
  async load(): Promise<void> {
    for await (const e of this.#kv.list<DatasetRecord>({ prefix: ["datasets"] })) {
      this.#datasets.set(e.value.name, this.#entry(e.value));
    }
    for await (const e of this.#kv.list<VersionRecord>({ prefix: ["versions"] })) {
      const d = this.#datasets.get(e.key[1] as string);
      if (d === undefined) continue;
      const v = this.#version(d, e.value.version);
      v.state = e.value.state;
      if (e.value.committedAt !== undefined) v.committedAt = e.value.committedAt;
    }
    for await (const e of this.#kv.list<FragmentRecord>({ prefix: ["fragments"] })) {
      const d = this.#datasets.get(e.value.dataset);
      const v = d?.versions.get(e.value.version);
      if (d === undefined || v === undefined) continue;
      const layout = this.#layout(d, e.value.fragment, e.value.bindings);
      v.held.set(heldKey(e.value.fragment, e.value.bindings), {
        record: e.value,
        layout,
        durable: true,
      });
    }
    for await (const e of this.#kv.list<number>({ prefix: ["latest"] })) {
      const d = this.#datasets.get(e.key[1] as string);
      if (d !== undefined) d.latest = e.value;
    }
  }

  /** Registers a dataset from its description (the talk's "create object"). */
  async createDataset(input: CreateDatasetInput): Promise<Record<string, unknown>> {
    const name = input.name;
    if (typeof name !== "string" || !NAME.test(name)) {
      throw new StrataError(
        "invalid_request",
        `Invalid dataset name '${name}': expected a letter then up to 127 letters, digits, '_', '.' or '-'`,
      );
    }
    if (this.#datasets.has(name) || this.#creating.has(name)) {
      throw new ConflictError(`Dataset '${name}' exists: delete it first or choose another name`);
    }
    const ds = input.description !== undefined
      ? compileDescription(input.description)
      : descriptionFromJson(input.descriptionJson);
    const retention = input.retention ?? this.#defaultRetention;
    if (!Number.isSafeInteger(retention) || retention < 1) {
      throw new StrataError(
        "invalid_request",
        `Invalid retention ${retention}: expected an integer >= 1`,
      );
    }
    const record: DatasetRecord = {
      name,
      description: input.description ?? printDescription(ds.description),
      retention,
      durable: input.durable === true,
      overwrite: input.overwrite === true,
      sizes: { ...(input.sizes ?? {}) },
      createdAt: Date.now(),
    };
    const entry = this.#entry(record, ds);
    this.#creating.add(name);
    try {
      await this.#writes.write([{ type: "set", key: KEYS.dataset(name), value: record }]);
      this.#datasets.set(name, entry);
    } finally {
      this.#creating.delete(name);
    }
    return this.#summary(entry);
  }

  /** Summaries of every dataset. */
  // deno-lint-ignore require-await
  async listDatasets(): Promise<Record<string, unknown>[]> {
    return [...this.#datasets.values()].map((d) => this.#summary(d));
  }

  /** One dataset: settings, description, fragments and versions. */
  // deno-lint-ignore require-await
  async describeDataset(name: string): Promise<Record<string, unknown>> {
    const d = this.#dataset(name);
    const fragments = [...d.ds.fragments.values()].map((f) => ({
      name: f.decl.name,
      params: f.decl.params,
      readOnly: f.decl.readOnly,
    }));
    return {
      ...this.#summary(d),
      description: d.record.description,
      fragments,
      byteLength: d.whole.byteLength,
      versions: this.#versionList(d),
    };
  }

  /** Deletes a dataset and every record of it; returns the copies whose bytes must be freed. */
  async deleteDataset(name: string): Promise<FragmentRecord[]> {
    const d = this.#dataset(name);
    this.#datasets.delete(name);
    const freed: FragmentRecord[] = [];
    for (const v of d.versions.values()) await Promise.allSettled([...v.inflight]);
    const keys: Deno.KvKey[] = [KEYS.dataset(name), KEYS.latest(name)];
    for (const prefix of [KEYS.fragments(name), KEYS.versions(name)]) {
      for await (const e of this.#kv.list({ prefix })) {
        keys.push(e.key);
        if (prefix[0] === "fragments") freed.push(e.value as FragmentRecord);
      }
    }
    for (let i = 0; i < keys.length; i += 500) {
      await this.#writes.write(keys.slice(i, i + 500).map((key) => ({ type: "delete", key })));
    }
    for (const w of d.waiters) w.resolve(-1);
    return freed;
  }

  /** Versions of a dataset, oldest first. */
  // deno-lint-ignore require-await
  async listVersions(name: string): Promise<VersionRecord[]> {
    return this.#versionList(this.#dataset(name));
  }

  /** Settings the runtime acts on. */
  // deno-lint-ignore require-await
  async datasetSettings(name: string): Promise<DatasetSettings> {
    const d = this.#dataset(name);
    return { name, durable: d.record.durable };
  }

  /** Layout of a fragment region (`dataset` for the whole dataset). */
  // deno-lint-ignore require-await
  async fragmentLayout(
    dataset: string,
    fragment: string,
    bindings: Readonly<Record<string, number>>,
  ): Promise<FragmentLayout> {
    return this.#layout(this.#dataset(dataset), fragment, bindings);
  }

  /**
   * Registers a published fragment copy (the talk's "publish fragment"). The
   * version commits itself when the published regions cover the dataset.
   */
  async publishFragment(record: FragmentRecord): Promise<{ committed: boolean }> {
    const d = this.#dataset(record.dataset);
    checkVersion(record.version);
    const layout = this.#layout(d, record.fragment, record.bindings);
    if (record.byteLength !== layout.byteLength) {
      throw new StrataError(
        "size_mismatch",
        `Cannot publish fragment '${record.fragment}': expected ${layout.byteLength} bytes, received ${record.byteLength}`,
      );
    }
    const v = this.#version(d, record.version);
    if (v.state !== "open") {
      throw new ConflictError(
        `Cannot publish into version ${v.version} of '${d.record.name}': it is ${v.state}, publish into a new version`,
      );
    }
    const key = heldKey(record.fragment, record.bindings);
    const before = v.held.get(key);
    if (before !== undefined && !d.record.overwrite) {
      throw new ConflictError(
        `Fragment '${record.fragment}'${
          describeRegion(record.bindings)
        } of version ${v.version} of '${d.record.name}' is already published: datasets are write-once unless created with overwrite`,
      );
    }
    const mine: Held = {
      record: { ...record, bindings: { ...record.bindings } },
      layout,
      durable: false,
    };
    v.held.set(key, mine);
    const write = this.#writes.write([
      {
        type: "set",
        key: KEYS.fragment(d.record.name, v.version, record.fragment, regionKey(record.bindings)),
        value: mine.record,
      },
      { type: "set", key: KEYS.version(d.record.name, v.version), value: versionRecord(v) },
    ]);
    v.inflight.add(write);
    try {
      await write;
    } catch (e) {
      if (v.held.get(key) === mine) {
        if (before === undefined) v.held.delete(key);
        else v.held.set(key, before);
      }
      throw e;
    } finally {
      v.inflight.delete(write);
    }
    mine.durable = true;
    if (v.state !== "open" || !this.#complete(d, v, layout)) return { committed: false };
    try {
      await this.commitVersion(d.record.name, v.version);
      return { committed: true };
    } catch (e) {
      // Another publish completing the same version committed it first.
      if (e instanceof ConflictError) return { committed: false };
      throw e;
    }
  }

  /**
   * Commits a version atomically (KV check-and-set): the version's state, the
   * dataset's latest pointer and the retirement of versions past retention
   * change in one atomic operation. Returns the retired copies.
   */
  // deno-lint-ignore require-await
  async commitVersion(
    dataset: string,
    version: number,
  ): Promise<{ version: number; retired: FragmentRecord[] }> {
    const d = this.#dataset(dataset);
    checkVersion(version);
    const run = d.commitChain.then(() => this.#commit(d, version));
    d.commitChain = run.catch(() => {});
    return run;
  }

  async #commit(
    d: DatasetEntry,
    version: number,
  ): Promise<{ version: number; retired: FragmentRecord[] }> {
    const name = d.record.name;
    const v = d.versions.get(version);
    if (v === undefined || v.held.size === 0) {
      throw new NotFoundError(
        `Version ${version} of '${name}' does not exist: nothing was published into it`,
      );
    }
    if (v.state !== "open") {
      throw new ConflictError(`Version ${version} of '${name}' is already ${v.state}`);
    }
    await Promise.allSettled([...v.inflight]);
    if (v.state !== "open") {
      throw new ConflictError(`Version ${version} of '${name}' is already ${v.state}`);
    }
    if (![...v.held.values()].every((h) => h.durable)) {
      throw new ConflictError(
        `Version ${version} of '${name}' has publishes that did not complete`,
      );
    }
    const committedAt = Date.now();
    const keep = [...d.versions.values()]
      .filter((x) => x.state === "committed" || x === v)
      .map((x) => x.version)
      .sort((a, b) => b - a)
      .slice(0, d.record.retention);
    const retire = [...d.versions.values()].filter((x) =>
      (x.state === "committed" || x === v) && !keep.includes(x.version)
    );
    const latest = Math.max(d.latest, version);
    for (let attempt = 0;; attempt++) {
      const current = await this.#kv.get<VersionRecord>(KEYS.version(name, version));
      if (current.value?.state !== undefined && current.value.state !== "open") {
        throw new ConflictError(
          `Version ${version} of '${name}' is already ${current.value.state}`,
        );
      }
      const op = this.#kv.atomic().check(current)
        .set(KEYS.version(name, version), { ...versionRecord(v), state: "committed", committedAt })
        .set(KEYS.latest(name), latest);
      for (const r of retire) {
        if (r !== v) {
          op.set(KEYS.version(name, r.version), { ...versionRecord(r), state: "retired" });
        }
      }
      const result = await op.commit();
      if (result.ok) break;
      if (attempt > 20) {
        throw new ConflictError(`Version ${version} of '${name}' changed while committing`);
      }
    }
    v.state = "committed";
    v.committedAt = committedAt;
    d.latest = latest;
    const retired: FragmentRecord[] = [];
    const deletes: Mutation[] = [];
    for (const r of retire) {
      if (r === v) continue;
      r.state = "retired";
      for (const h of r.held.values()) {
        retired.push(h.record);
        deletes.push({
          type: "delete",
          key: KEYS.fragment(name, r.version, h.record.fragment, regionKey(h.record.bindings)),
        });
      }
      r.held.clear();
    }
    for (let i = 0; i < deletes.length; i += 500) {
      await this.#writes.write(deletes.slice(i, i + 500));
    }
    for (const w of [...d.waiters]) {
      if (version >= w.atLeast) {
        d.waiters.delete(w);
        w.resolve(this.#firstCommitted(d, w.atLeast));
      }
    }
    return { version, retired };
  }

  /**
   * Finds the published copies holding a fragment region of a committed
   * version (the talk's "attach fragment", registry side).
   */
  // deno-lint-ignore require-await
  async attachFragments(query: {
    readonly dataset: string;
    readonly version: number | "latest";
    readonly fragment: string;
    readonly bindings: Readonly<Record<string, number>>;
  }): Promise<{ version: number; layout: FragmentLayout; sources: SourceRecord[] }> {
    const d = this.#dataset(query.dataset);
    const name = d.record.name;
    const layout = this.#layout(d, query.fragment, query.bindings);
    let n: number;
    if (query.version === "latest") {
      if (d.latest === 0) throw new NotCommittedError(name, 1);
      n = d.latest;
    } else {
      checkVersion(query.version);
      n = query.version;
    }
    const v = d.versions.get(n);
    if (v === undefined) throw new NotFoundError(`Version ${n} of '${name}' does not exist`);
    if (v.state === "open") throw new NotCommittedError(name, n);
    if (v.state === "retired") {
      throw new LostError(
        name,
        n,
        query.fragment,
        `was retired: '${name}' keeps its last ${d.record.retention} versions`,
      );
    }
    const sources: SourceRecord[] = [];
    for (const h of v.held.values()) {
      if (h.durable && overlaps(h.layout, layout)) sources.push({ ...h.record, layout: h.layout });
    }
    return { version: n, layout, sources };
  }

  /** Resolves with the first committed version >= `atLeast`, or fails after `timeoutMs`. */
  waitForVersion(
    dataset: string,
    atLeast: number,
    options: { readonly timeoutMs: number },
  ): Promise<number> {
    const d = this.#dataset(dataset);
    const now = this.#firstCommitted(d, atLeast);
    if (now > 0) return Promise.resolve(now);
    return new Promise<number>((resolve, reject) => {
      const waiter = {
        atLeast,
        resolve: (v: number) => {
          clearTimeout(timer);
          if (v < 0) reject(new NotFoundError(`Dataset '${dataset}' was deleted while waiting`));
          else resolve(v);
        },
      };
      const timer = setTimeout(() => {
        d.waiters.delete(waiter);
        reject(new WaitTimeoutError(dataset, atLeast, options.timeoutMs));
      }, options.timeoutMs);
      d.waiters.add(waiter);
    });
  }

  /** Registers (or renews) a node with a lease. */
  async registerNode(node: Omit<NodeRecord, "leaseUntil">, leaseMs = 10_000): Promise<NodeRecord> {
    const record: NodeRecord = { ...node, leaseUntil: Date.now() + leaseMs };
    await this.#writes.write([{
      type: "set",
      key: KEYS.node(node.id),
      value: record,
      expireIn: leaseMs,
    }]);
    return record;
  }

  /** Nodes whose lease has not lapsed. */
  async listNodes(): Promise<NodeRecord[]> {
    const out: NodeRecord[] = [];
    const now = Date.now();
    for await (const e of this.#kv.list<NodeRecord>({ prefix: ["nodes"] })) {
      if (e.value.leaseUntil > now) out.push(e.value);
    }
    return out;
  }

  /** Runs many operations concurrently (publishes share group commits); each gets its own result. */
  async batch(ops: readonly unknown[]): Promise<unknown[]> {
    // Operations run in order; a run of consecutive publishes runs concurrently
    // so its writes share group commits.
    const settled: PromiseSettledResult<unknown>[] = [];
    for (let i = 0; i < ops.length;) {
      let j = i + 1;
      if (isPublish(ops[i])) { while (j < ops.length && isPublish(ops[j])) j++; }
      settled.push(...await Promise.allSettled(ops.slice(i, j).map((op) => this.#one(op))));
      i = j;
    }
    return settled.map((s) =>
      s.status === "fulfilled" ? { ok: s.value } : {
        error: s.reason instanceof StrataError
          ? { code: s.reason.code, message: s.reason.message }
          : { code: "internal", message: String((s.reason as Error)?.message ?? s.reason) },
      }
    );
  }

  async #one(op: unknown): Promise<unknown> {
    if (typeof op !== "object" || op === null) {
      throw new StrataError("invalid_request", "Invalid batch operation: expected an object");
    }
    const o = op as Record<string, unknown>;
    const bindings = (o.bindings ?? {}) as Record<string, number>;
    switch (o.op) {
      case "publish":
        return await this.publishFragment({
          dataset: String(o.dataset),
          version: Number(o.version),
          fragment: String(o.fragment),
          bindings,
          node: String(o.node),
          tier: String(o.tier),
          byteLength: Number(o.byteLength),
          checksum: Number(o.checksum ?? 0),
        });
      case "commit":
        return await this.commitVersion(String(o.dataset), Number(o.version));
      case "lookup": {
        const r = await this.attachFragments({
          dataset: String(o.dataset),
          version: o.version === "latest" ? "latest" : Number(o.version),
          fragment: String(o.fragment),
          bindings,
        });
        return {
          version: r.version,
          byteLength: r.layout.byteLength,
          sources: r.sources.map(({ layout: _, ...s }) => s),
        };
      }
      default:
        throw new StrataError(
          "invalid_request",
          `Unknown batch operation '${String(o.op)}': expected publish, commit or lookup`,
        );
    }
  }

  /** Closes the KV store (again is harmless). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#kv.close();
  }

  /** Closes the KV store. */
  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }

  #entry(record: DatasetRecord, compiled?: Dataset): DatasetEntry {
    const ds = compiled ?? compileDescription(record.description);
    return {
      record,
      ds,
      whole: datasetLayout(ds, record.sizes),
      versions: new Map(),
      latest: 0,
      commitChain: Promise.resolve(),
      waiters: new Set(),
    };
  }

  #dataset(name: string): DatasetEntry {
    const d = this.#datasets.get(name);
    if (d === undefined) throw new NotFoundError(`Unknown dataset '${name}'`);
    return d;
  }

  #version(d: DatasetEntry, n: number): VersionEntry {
    let v = d.versions.get(n);
    if (v === undefined) {
      v = { version: n, state: "open", held: new Map(), inflight: new Set() };
      d.versions.set(n, v);
    }
    return v;
  }

  #layout(
    d: DatasetEntry,
    fragment: string,
    bindings: Readonly<Record<string, number>>,
  ): FragmentLayout {
    if (fragment === "dataset") {
      if (Object.keys(bindings).length > 0) {
        throw new StrataError(
          "invalid_layout",
          "Fragment 'dataset' (the whole dataset) takes no parameters",
        );
      }
      return d.whole;
    }
    return fragmentLayout(d.ds, fragment, { ...d.record.sizes, ...bindings });
  }

  #complete(d: DatasetEntry, v: VersionEntry, added?: FragmentLayout): boolean {
    if (v.gaps === undefined) {
      v.gaps = gaps(d.whole, [...v.held.values()].filter((h) => h.durable).map((h) => h.layout));
    } else if (added !== undefined) {
      v.gaps = subtractLayout(v.gaps, added);
    }
    return v.gaps.length === 0;
  }

  #firstCommitted(d: DatasetEntry, atLeast: number): number {
    let best = 0;
    for (const v of d.versions.values()) {
      if (v.state === "committed" && v.version >= atLeast && (best === 0 || v.version < best)) {
        best = v.version;
      }
    }
    return best;
  }

  #summary(d: DatasetEntry): Record<string, unknown> {
    return {
      name: d.record.name,
      retention: d.record.retention,
      durable: d.record.durable,
      overwrite: d.record.overwrite,
      latest: d.latest === 0 ? null : d.latest,
      createdAt: d.record.createdAt,
    };
  }

  #versionList(d: DatasetEntry): VersionRecord[] {
    return [...d.versions.values()].sort((a, b) => a.version - b.version).map(versionRecord);
  }
}

function versionRecord(v: VersionEntry): VersionRecord {
  let bytes = 0;
  for (const h of v.held.values()) bytes += h.record.byteLength;
  return {
    version: v.version,
    state: v.state,
    fragments: v.held.size,
    bytes,
    ...(v.committedAt === undefined ? {} : { committedAt: v.committedAt }),
  };
}

function isPublish(op: unknown): boolean {
  return typeof op === "object" && op !== null && (op as { op?: unknown }).op === "publish";
}

function heldKey(fragment: string, bindings: Readonly<Record<string, number>>): string {
  return `${fragment}/${regionKey(bindings)}`;
}

function describeRegion(bindings: Readonly<Record<string, number>>): string {
  const r = regionKey(bindings);
  return r === "" ? "" : ` (${r})`;
}

function checkVersion(v: number): void {
  if (!Number.isSafeInteger(v) || v < 1) {
    throw new StrataError("invalid_request", `Invalid version ${v}: expected an integer >= 1`);
  }
}
