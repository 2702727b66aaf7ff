/**
 * Datasets: creating, listing, describing and deleting them, and what the
 * runtime asks of one (its settings, a version's sizes, a region's layout).
 *
 * @module
 */

import { forgetDataset } from "../observe/mod.ts";
import {
  type Dataset,
  descriptionFromJson,
  descriptionToJson,
  printDescription,
} from "../ddl/mod.ts";
import { ConflictError, InvalidRequestError, LayoutError } from "../errors.ts";
import type { DatasetSettings } from "../name_service/name_service.ts";
import type { FragmentLayout } from "../transform/layout.ts";
import { chunks, deletion } from "./_deletes.ts";
import { DatasetPacks } from "./_dataset_packs.ts";
import { type DatasetEntry, type RegistryState, versionRecord } from "./_state.ts";
import { knownSizes, layoutOf } from "./_version_sizes.ts";
import {
  compileShared,
  sharedPublishable,
  sharedSizeVariables,
  sharedSource,
} from "./_compiled.ts";
import { KEYS } from "./keys.ts";
import { copyKey } from "../tiers/copy_keys.ts";
import { DEFAULT_LIST_PAGE } from "./records.ts";
import type {
  CreateDatasetInput,
  DatasetDescription,
  DatasetPage,
  DatasetRecord,
  DatasetSummary,
  FragmentRecord,
  StoredPack,
  StoredVersionRecord,
  VersionPage,
  VersionRecord,
} from "./records.ts";
import {
  checkConsumers,
  checkDescriptionInput,
  checkDescriptionSize,
  checkName,
  checkRetention,
  checkSizes,
  checkVersion,
  regionOf,
} from "./validate.ts";

/**
 * The datasets of a registry.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RegistryState } from "./_state.ts";
 * import { Datasets } from "./_datasets.ts";
 * using state = new RegistryState(await Deno.openKv(":memory:"));
 * const datasets = new Datasets(state);
 * await datasets.create({ name: "t", description: "dataset { var x [4]float64 }" });
 * assert.deepEqual((await datasets.list()).map((d) => d.name), ["t"]);
 * assert.deepEqual(await datasets.delete("t"), []);
 * ```
 */
export class Datasets {
  readonly #s: RegistryState;
  readonly #packs: DatasetPacks;

  /** Datasets kept in `state`. */
  constructor(state: RegistryState) {
    this.#s = state;
    this.#packs = new DatasetPacks(state);
  }

  /** Registers a dataset from its description; see `Registry.createDataset`. */
  async create(input: CreateDatasetInput): Promise<DatasetSummary> {
    const s = this.#s;
    s.checkOpen();
    const name = input.name;
    checkName("dataset", name);
    if (s.datasets.has(name) || s.creating.has(name)) {
      throw new ConflictError(`Dataset '${name}' exists: delete it first or choose another name`);
    }
    if (s.deleting.has(name)) {
      throw new ConflictError(`Dataset '${name}' is being deleted: create it once that completes`);
    }
    // Size first: nothing over the limits is compiled.
    checkDescriptionInput(input);
    const ds = compileInput(input);
    const entry = s.entry(this.#record(input, ds), ds);
    s.creating.add(name);
    try {
      await this.#packs.write(entry);
      s.datasets.set(name, entry);
    } finally {
      s.creating.delete(name);
    }
    return summary(entry);
  }

  /** The record of a new dataset, its settings checked. */
  #record(input: CreateDatasetInput, ds: Dataset): DatasetRecord {
    const retention = input.retention ?? this.#s.defaultRetention;
    checkRetention(retention);
    // Records without sizes share one empty, frozen object.
    const given = input.sizes ?? {};
    const sizes = Object.keys(given).length === 0 ? NO_SIZES : { ...given };
    checkSizes(ds, sizes);
    checkPublishable(ds, sizes);
    if (input.consumers !== undefined) checkConsumers(input.consumers);
    // The text compiled once for all datasets of that text is kept, rather
    // than the string each request brought.
    const description = typeof input.description === "string"
      ? sharedSource(ds) ?? input.description
      : printDescription(ds.description);
    checkDescriptionSize(description);
    return {
      name: input.name,
      description,
      retention,
      durable: input.durable === true,
      overwrite: input.overwrite === true,
      sizes,
      // Never the time of a dataset created before: a name deleted and
      // created again within a millisecond still gets a new one.
      createdAt: this.#s.nextCreatedAt(),
      ...(input.consumers === undefined || input.consumers.length === 0
        ? {}
        : { consumers: [...new Set(input.consumers)] }),
    };
  }

  /** Summaries of the datasets of a page (every dataset by default), by name. */
  // deno-lint-ignore require-await
  async list(page: DatasetPage = {}): Promise<DatasetSummary[]> {
    const datasets = this.#s.datasets;
    const names = page.after === undefined && page.limit === undefined
      ? datasets.sortedKeys()
      : datasets.page(page.after, page.limit ?? datasets.size);
    return names.map((n) => summary(datasets.get(n)!));
  }

  /** One dataset: settings, description (text and JSON), fragments and versions. */
  // deno-lint-ignore require-await
  async describe(name: string): Promise<DatasetDescription> {
    const d = this.#s.dataset(name);
    // A dataset's description never changes: built once, shared, frozen.
    d.described ??= deepFreeze({
      descriptionJson: descriptionToJson(d.ds.description),
      fragments: [...d.ds.fragments.values()].map((f) => ({
        name: f.decl.name,
        params: [...f.decl.params],
        readOnly: f.decl.readOnly,
      })),
    });
    return {
      ...summary(d),
      description: d.record.description,
      descriptionJson: d.described.descriptionJson,
      sizes: d.record.sizes,
      sizesPerVersion: [...d.perVersion],
      consumers: d.record.consumers ?? [],
      fragments: d.described.fragments,
      byteLength: d.whole?.byteLength ?? null,
      ...describedVersions(d),
    };
  }

  /** Deletes a dataset and every record of it; returns the copies whose bytes must be freed. */
  async delete(name: string): Promise<FragmentRecord[]> {
    const s = this.#s;
    s.checkOpen();
    const d = s.dataset(name);
    d.deleted = true;
    s.datasets.delete(name);
    s.deleting.add(name);
    try {
      s.flushHeld(d);
      for (const v of d.versions.values()) await Promise.allSettled([...v.inflight]);
      await d.commitChain;
      try {
        await s.writes.write([{
          type: "set",
          key: KEYS.dataset(name),
          value: { ...d.record, deleting: true },
        }]);
      } catch (e) {
        d.deleted = false;
        s.datasets.set(name, d);
        throw e;
      }
      const copies = await this.purge(name, d.pack);
      s.release(copies);
      forgetDataset(name);
      return copies;
    } finally {
      s.deleting.delete(name);
    }
  }

  /**
   * Removes every record of a dataset marked as deleting (its record in
   * dataset pack `pack` when it has one, looked for in every pack when not
   * known); returns its copies.
   */
  async purge(name: string, pack?: number): Promise<FragmentRecord[]> {
    const s = this.#s;
    // Copies by region: a copy's own key wins over its version's record
    // or a pack holding it.
    const freed = new Map<string, FragmentRecord>();
    const keys: Deno.KvKey[] = [];
    for await (const e of s.kv.list<StoredVersionRecord>({ prefix: KEYS.versions(name) })) {
      keys.push(e.key);
      for (const r of e.value.copies ?? []) freed.set(copyOf(r), r);
    }
    for await (const e of s.kv.list<StoredPack>({ prefix: KEYS.packs(name) })) {
      keys.push(e.key);
      for (const r of e.value.copies) freed.set(copyOf(r), r);
    }
    for await (const e of s.kv.list<FragmentRecord>({ prefix: KEYS.fragments(name) })) {
      keys.push(e.key);
      freed.set(copyOf(e.value), e.value);
    }
    for (const chunk of chunks(keys)) await s.writes.write(chunk.map(deletion));
    // The dataset's record goes last: until then a restart sees the mark.
    await s.writes.write([
      deletion(KEYS.latest(name)),
      deletion(KEYS.dataset(name)),
      ...this.#packs.removal(name, pack),
    ]);
    return [...freed.values()];
  }

  /** Versions of a dataset, oldest first. */
  // deno-lint-ignore require-await
  async versions(name: string, page: VersionPage = {}): Promise<VersionRecord[]> {
    return versionList(this.#s.dataset(name), page);
  }

  /** Settings the runtime acts on. */
  // deno-lint-ignore require-await
  async settings(name: string): Promise<DatasetSettings> {
    const d = this.#s.dataset(name);
    return {
      name,
      durable: d.record.durable,
      consumers: d.record.consumers ?? [],
      ...(d.perVersion.size === 0
        ? {}
        : { description: d.record.description, sizes: d.record.sizes }),
    };
  }

  /** The sizes version `version` is laid out with. */
  // deno-lint-ignore require-await
  async versionSizes(dataset: string, version: number): Promise<Record<string, number>> {
    const d = this.#s.dataset(dataset);
    checkVersion(version);
    return knownSizes(d, d.versions.get(version));
  }

  /** Layout of a fragment region (`dataset` for the whole dataset). */
  // deno-lint-ignore require-await
  async fragmentLayout(
    dataset: string,
    fragment: string,
    bindings: Readonly<Record<string, number>>,
  ): Promise<FragmentLayout> {
    const d = this.#s.dataset(dataset);
    return layoutOf(d, undefined, fragment, regionOf(bindings, d.sizeVars, d.record.sizes));
  }
}

/** The sizes of every record created without any. */
const NO_SIZES: Readonly<Record<string, number>> = Object.freeze({});

function compileInput(input: CreateDatasetInput): Dataset {
  if (typeof input.description === "string") return compileShared(input.description);
  const json = input.description ?? input.descriptionJson;
  if (json === undefined) {
    throw new InvalidRequestError(
      `Invalid dataset '${input.name}': expected a description, as text or in its JSON form`,
    );
  }
  return descriptionFromJson(json);
}

/** Refuses a size variable neither given nor published by any layout before what it sizes. */
function checkPublishable(ds: Dataset, sizes: Readonly<Record<string, number>>): void {
  const publishable = sharedPublishable(ds);
  for (const k of sharedSizeVariables(ds)) {
    if (sizes[k] !== undefined || publishable.has(k)) continue;
    throw new LayoutError(
      `Size variable '${k}' is not given in sizes, and no layout a producer publishes stores it before the arrays it sizes: give it when creating the dataset, or store it first`,
    );
  }
}

function summary(d: DatasetEntry): DatasetSummary {
  return {
    name: d.record.name,
    retention: d.record.retention,
    durable: d.record.durable,
    overwrite: d.record.overwrite,
    latest: d.latest === 0 ? null : d.latest,
    createdAt: d.record.createdAt,
  };
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

function versionList(d: DatasetEntry, page: VersionPage = {}): VersionRecord[] {
  const after = page.after ?? 0;
  const listed = [...d.versions.values()].filter((v) => v.version > after)
    .sort((a, b) => a.version - b.version);
  return (page.limit === undefined ? listed : listed.slice(0, page.limit)).map(versionRecord);
}

/** The versions a description lists: the newest `DEFAULT_LIST_PAGE`, and how many it leaves out. */
function describedVersions(
  d: DatasetEntry,
): { versions: VersionRecord[]; versionsOmitted?: number } {
  const all = versionList(d);
  if (all.length <= DEFAULT_LIST_PAGE) return { versions: all };
  return {
    versions: all.slice(all.length - DEFAULT_LIST_PAGE),
    versionsOmitted: all.length - DEFAULT_LIST_PAGE,
  };
}

/** The copy a record names, as text. */
function copyOf(r: FragmentRecord): string {
  return copyKey(r.dataset, r.version, r.fragment, r.bindings);
}
