/**
 * Lookups: the copies of a committed version that hold part of a region,
 * and waits for a version that is not committed yet.
 *
 * @module
 */

import { LostError, NotCommittedError, NotFoundError } from "../errors.ts";
import { overlaps } from "../transform/overlap.ts";
import {
  type DatasetEntry,
  firstCommitted,
  type Held,
  type RegistryState,
  retiredBelow,
  type VersionEntry,
} from "./_state.ts";
import { fixedRegion } from "./_fixed_regions.ts";
import { knownSizes, layoutOf, regionIn } from "./_version_sizes.ts";
import type { AttachQuery, AttachResult, AttachWait, LookupRecords } from "./records.ts";
import type { FragmentLayout } from "../transform/layout.ts";
import { RegionIndex } from "./region_index.ts";
import { checkName, checkVersion } from "./validate.ts";
import type { WaitOptions } from "./waiters.ts";

/**
 * Lookups of copies and waits for versions.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RegistryState } from "./_state.ts";
 * import { Datasets } from "./_datasets.ts";
 * import { Lookup } from "./_lookup.ts";
 * using state = new RegistryState(await Deno.openKv(":memory:"));
 * await new Datasets(state).create({ name: "t", description: "dataset { var x [4]float64 }" });
 * const lookup = new Lookup(state);
 * assert.throws(() => lookup.find({ dataset: "t", version: "latest", fragment: "dataset", bindings: {} }), {
 *   name: "NotCommittedError",
 * });
 * ```
 */
export class Lookup {
  readonly #s: RegistryState;

  /** Lookups in `state`. */
  constructor(state: RegistryState) {
    this.#s = state;
  }

  /** Finds the copies of a region, waiting with `waitMs`; see `Registry.attachFragments`. */
  async attach(query: AttachQuery, options: AttachWait = {}): Promise<AttachResult> {
    if (options.waitMs === undefined) return this.find(query);
    if (query.version !== "latest") {
      try {
        return this.find(query);
      } catch {
        // Not committed yet (or another answer that the wait settles first).
      }
    }
    const atLeast = query.version === "latest" ? 1 : query.version;
    const version = await this.waitForVersion(query.dataset, atLeast, {
      timeoutMs: options.waitMs,
    });
    return this.find({ ...query, version });
  }

  /** Finds the copies of a region of a committed version, without waiting. */
  find(query: AttachQuery): AttachResult {
    const { d, v, layout, held } = this.#found(query);
    return {
      version: v.version,
      layout,
      sources: held.map((h) => ({ ...h.record, layout: h.layout })),
      createdAt: d.record.createdAt,
      sizes: knownSizes(d, v),
    };
  }

  /**
   * The records of the copies `find` finds, without their layouts (what a
   * batch's lookup answers): the records the registry holds, not copies of
   * them, so they are not to be changed.
   */
  records(query: AttachQuery): LookupRecords {
    const { v, layout, held } = this.#found(query);
    return {
      version: v.version,
      byteLength: layout.byteLength,
      sources: held.map((h) => h.record),
    };
  }

  #found(query: AttachQuery): {
    d: DatasetEntry;
    v: VersionEntry;
    layout: FragmentLayout;
    held: Held[];
  } {
    const d = this.#s.dataset(query.dataset);
    // With sizes fixed at creation, a bad region is refused whatever the version.
    const fixed = d.perVersion.size === 0
      ? fixedRegion(d, query.fragment, query.bindings).layout
      : undefined;
    const v = committedVersion(d, query);
    const index = indexOf(v);
    const layout = fixed ?? layoutOf(d, v, query.fragment, regionIn(d, v, query.bindings));
    const held: Held[] = [];
    for (const h of index.query(layout)) if (overlaps(h.layout, layout)) held.push(h);
    return { d, v, layout, held };
  }

  /** The first committed version >= `atLeast`; see `Registry.waitForVersion`. */
  // deno-lint-ignore require-await
  async waitForVersion(
    dataset: string,
    atLeast: number,
    options: WaitOptions = {},
  ): Promise<number> {
    checkName("dataset", dataset);
    checkVersion(atLeast);
    const d = this.#s.datasets.get(dataset);
    const now = d === undefined ? 0 : firstCommitted(d, atLeast);
    if (now > 0) return now;
    return this.#s.waiters.wait(dataset, atLeast, options);
  }
}

/** The version a query names, which must be committed. */
function committedVersion(d: DatasetEntry, query: AttachQuery): VersionEntry {
  const name = d.record.name;
  let n: number;
  if (query.version === "latest") {
    if (d.latest === 0) throw new NotCommittedError(name, 1);
    n = d.latest;
  } else {
    checkVersion(query.version);
    n = query.version;
  }
  const v = d.versions.get(n);
  // Versions below the oldest kept were retired (the oldest ones forgotten since).
  if (v === undefined && n < retiredBelow(d)) {
    throw new LostError(
      name,
      n,
      query.fragment,
      `was retired: '${name}' keeps its last ${d.record.retention} versions`,
    );
  }
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
  return v;
}

/** A committed version's copies no longer change: they are indexed once. */
function indexOf(v: VersionEntry): RegionIndex<Held> {
  if (v.index === undefined) {
    v.index = new RegionIndex();
    for (const h of v.held.values()) if (h.durable) v.index.add(h.layout, h);
  }
  return v.index;
}
