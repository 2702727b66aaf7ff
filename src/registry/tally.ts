/**
 * Whether a version's copies cover its dataset, counted by region once the
 * dataset's regions are known to tile it. Pure.
 *
 * A simulation publishes every step the same way: each rank its block,
 * the blocks never overlapping and together the whole dataset. Once a
 * version's copies cover a dataset whose sizes are fixed (every version
 * laid out alike) with regions that hold, between them, exactly as many
 * indices as the dataset (so none overlaps another), those regions are a
 * tiling of it. A later version whose copies are all regions of that tiling
 * is complete when it holds every one of them: a missing region leaves its
 * indices missing, no other region of the tiling holds them. Counting
 * regions replaces subtracting boxes (a `Coverage` per version, twice),
 * which took a sixth of a version's commit from 4 ranks' blocks
 * (bench/commit_bench.ts). A copy of a region outside the tiling makes the
 * tally fall back, from the copies it has counted.
 *
 * Before any tiling, or after such a fall back, a version cannot be
 * complete while its copies hold fewer indices of some variable and field
 * than the dataset has (overlaps counted twice): the tally only sums them
 * until every sum reaches the dataset's, then subtracts boxes from all of
 * them. The cells of one large open version so never split a box.
 *
 * @module
 */

import type { FragmentLayout, VarSlot } from "../transform/layout.ts";
import { slotBox } from "../transform/overlap.ts";
import { boxSize, intersectBoxes, type StridedBox } from "../transform/region.ts";
import { Coverage, holdsField } from "./coverage.ts";

/** Regions (by their key among a version's copies) that tile a dataset exactly, with their layouts. */
export type Tiling = ReadonlyMap<string, FragmentLayout>;

/** Most regions a tiling learned from a version may have (beyond, none is learned). */
export const MAX_TILES = 4096;

/**
 * What a version's copies cover: regions counted against a tiling of the
 * dataset while every copy is one of its regions; otherwise indices summed
 * while they cannot cover it, then boxes subtracted (`Coverage`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { compileDescription, datasetLayout, fragmentLayout } from "../ddl/mod.ts";
 * import { Tally } from "./tally.ts";
 * const ds = compileDescription("dataset { var t [8]float64 }\nfragment half(h) { var t = t[h * 4:h * 4 + 4] }");
 * const whole = datasetLayout(ds);
 * const half = (h: number) => fragmentLayout(ds, "half", { h });
 * const first = new Tally(whole);
 * first.add("h0", half(0));
 * first.add("h1", half(1));
 * assert.ok(first.complete);
 * const tiling = first.tiling(); // learned: the two halves tile the dataset
 * assert.equal(tiling?.size, 2);
 * const next = new Tally(whole, tiling);
 * next.add("h1", half(1));
 * assert.equal(next.complete, false);
 * next.add("h0", half(0));
 * assert.ok(next.complete);
 * ```
 */
export class Tally {
  readonly #whole: FragmentLayout;
  /** The tiling regions are counted against; undefined once they are not. */
  #tiling: Tiling | undefined;
  /** Regions of the tiling held (while counting). */
  #held: Set<string> | undefined;
  /** Regions added while not counting, and their layouts, in order (undefined while counting). */
  #ids: string[] | undefined;
  #layouts: FragmentLayout[] | undefined;
  /**
   * Indices the regions added hold, per variable and field of the whole
   * (`entriesOf`), while some sum is below the whole's: the version cannot
   * be complete yet, no box is subtracted. Undefined once boxes are.
   */
  #sums: number[] | undefined;
  /** Boxes still missing, once every sum reached the whole's. */
  #coverage: Coverage | undefined;
  /** The tiling learned, once worked out (null: none). */
  #learned: Tiling | null | undefined;

  /**
   * Starts with nothing covered of `whole`; counts regions against
   * `tiling` when given (a tiling of this same `whole`, `Tally.tiling`).
   */
  constructor(whole: FragmentLayout, tiling?: Tiling) {
    this.#whole = whole;
    if (tiling !== undefined && tiling.size > 0) {
      this.#tiling = tiling;
      this.#held = new Set();
    } else this.#startSums();
  }

  /** Marks what region `id`, laid out as `layout`, holds as covered. */
  add(id: string, layout: FragmentLayout): void {
    if (this.#tiling !== undefined) {
      if (this.#tiling.has(id)) {
        this.#held!.add(id);
        return;
      }
      // A region outside the tiling: sums, then boxes, from the regions counted.
      const [tiling, held] = [this.#tiling, this.#held!];
      this.#tiling = undefined;
      this.#held = undefined;
      this.#startSums();
      for (const h of held) this.#addRegion(h, tiling.get(h)!);
    }
    this.#addRegion(id, layout);
  }

  /** The whole layout it tallies. */
  get whole(): FragmentLayout {
    return this.#whole;
  }

  /** Whether nothing is missing. */
  get complete(): boolean {
    if (this.#tiling !== undefined) return this.#held!.size === this.#tiling.size;
    return this.#coverage !== undefined && this.#coverage.complete;
  }

  /**
   * A tiling learned from this tally: once complete, the regions added
   * (while not counting, at most MAX_TILES of them) that hold indices,
   * when they hold exactly as many as the dataset for every variable and
   * field (so no two overlap). Undefined otherwise.
   */
  tiling(): Tiling | undefined {
    if (this.#learned !== undefined) return this.#learned ?? undefined;
    if (this.#tiling !== undefined || !this.complete) return undefined;
    const [ids, layouts] = [this.#ids, this.#layouts];
    if (ids === undefined || layouts === undefined) return undefined;
    const regions = new Map<string, FragmentLayout>();
    for (let k = 0; k < ids.length && regions.size <= MAX_TILES; k++) {
      regions.set(ids[k]!, layouts[k]!);
    }
    this.#learned = regions.size > MAX_TILES ? null : exactTiling(this.#whole, regions) ?? null;
    return this.#learned ?? undefined;
  }

  #startSums(): void {
    this.#ids = [];
    this.#layouts = [];
    this.#sums = entriesOf(this.#whole).map(() => 0);
    this.#boxesOnceSummed();
  }

  #addRegion(id: string, layout: FragmentLayout): void {
    this.#ids?.push(id);
    this.#layouts?.push(layout);
    if (this.#coverage !== undefined) {
      this.#coverage.add(layout);
      // Subtracting boxes, the regions are kept only to learn a tiling from.
      if (this.#ids!.length > MAX_TILES) this.#ids = this.#layouts = undefined;
      return;
    }
    const entries = entriesOf(this.#whole);
    for (let k = 0; k < entries.length; k++) this.#sums![k]! += indicesIn(entries[k]!, layout);
    this.#boxesOnceSummed();
  }

  /** Subtracts boxes from here on once every sum reached the whole's: the version may be complete. */
  #boxesOnceSummed(): void {
    const entries = entriesOf(this.#whole);
    for (let k = 0; k < entries.length; k++) if (this.#sums![k]! < entries[k]!.total) return;
    this.#sums = undefined;
    this.#coverage = new Coverage(this.#whole);
    for (const layout of this.#layouts!) this.#coverage.add(layout);
  }
}

/** A variable's field of the whole as coverage counts it, and the indices it has. */
interface Entry {
  readonly slot: VarSlot;
  /** The slot's indices. */
  readonly box: StridedBox;
  readonly field: VarSlot["fields"][number];
  readonly total: number;
}

/** Entries of whole layouts, worked out once each. */
const ENTRIES = new WeakMap<FragmentLayout, readonly Entry[]>();

/** The whole's variables and fields that hold indices (as `Coverage` counts them). */
function entriesOf(whole: FragmentLayout): readonly Entry[] {
  let entries = ENTRIES.get(whole);
  if (entries === undefined) {
    const list: Entry[] = [];
    for (const slot of whole.slots) {
      const box = slotBox(slot);
      const total = boxSize(box);
      if (total > 0) { for (const field of slot.fields) list.push({ slot, box, field, total }); }
    }
    ENTRIES.set(whole, entries = list);
  }
  return entries;
}

/**
 * Indices `layout` holds of entry `e` (as many or more than it holds of
 * the whole: boxes are not clipped, overlaps count twice).
 */
function indicesIn(e: Entry, layout: FragmentLayout): number {
  let n = 0;
  for (const s of layout.slots) {
    if (holds(s, e)) n += boxSize(slotBox(s));
  }
  return n;
}

/** What a dataset's tallies need of it: its whole layout when fixed, and the tiling learned. */
export interface TilingHolder {
  /** The whole-dataset layout; undefined when sizes are read per version. */
  readonly whole: FragmentLayout | undefined;
  /** The tiling learned so far. */
  tiling?: Tiling;
}

/**
 * A tally of a version of `d` laid out as `whole`: counting regions
 * against the tiling `d` learned when `whole` is the dataset's fixed
 * layout, subtracting boxes otherwise.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { compileDescription, datasetLayout, fragmentLayout } from "../ddl/mod.ts";
 * import { learnTiling, tallyOf, type TilingHolder } from "./tally.ts";
 * const ds = compileDescription("dataset { var t [8]float64 }\nfragment half(h) { var t = t[h * 4:h * 4 + 4] }");
 * const whole = datasetLayout(ds);
 * const d: TilingHolder = { whole };
 * const t = tallyOf(d, whole);
 * t.add("h0", fragmentLayout(ds, "half", { h: 0 }));
 * t.add("h1", fragmentLayout(ds, "half", { h: 1 }));
 * learnTiling(d, t);
 * assert.equal(d.tiling?.size, 2);
 * ```
 */
export function tallyOf(d: TilingHolder, whole: FragmentLayout): Tally {
  return new Tally(whole, whole === d.whole ? d.tiling : undefined);
}

/**
 * Keeps the tiling a complete tally of a version of `d` found (by
 * subtracting boxes), when its sizes are fixed: the dataset's later
 * versions count its regions.
 */
export function learnTiling(d: TilingHolder, tally: Tally): void {
  if (d.whole === undefined || tally.whole !== d.whole) return;
  const found = tally.tiling();
  if (found !== undefined && found !== d.tiling) d.tiling = found;
}

/**
 * The regions of `regions` that hold indices, when together they hold
 * exactly as many indices of each variable and field of `whole` as it has
 * (counting only the parts inside it); undefined when they hold more (two
 * overlap) or fewer. With regions that cover `whole`, that makes them a
 * tiling of it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { compileDescription, datasetLayout, fragmentLayout } from "../ddl/mod.ts";
 * import { exactTiling } from "./tally.ts";
 * const ds = compileDescription("dataset { var t [8]float64 }\nfragment part(a, b) { var t = t[a:b] }");
 * const whole = datasetLayout(ds);
 * const part = (a: number, b: number) => fragmentLayout(ds, "part", { a, b });
 * assert.equal(exactTiling(whole, new Map([["x", part(0, 4)], ["y", part(4, 8)]]))?.size, 2);
 * assert.equal(exactTiling(whole, new Map([["x", part(0, 5)], ["y", part(4, 8)]])), undefined);
 * ```
 */
export function exactTiling(
  whole: FragmentLayout,
  regions: ReadonlyMap<string, FragmentLayout>,
): Tiling | undefined {
  const tiles = new Map<string, FragmentLayout>();
  for (const e of entriesOf(whole)) {
    let held = 0;
    for (const [id, layout] of regions) {
      for (const s of layout.slots) {
        if (!holds(s, e)) continue;
        const common = intersectBoxes(slotBox(s), e.box);
        const n = common === undefined ? 0 : boxSize(common);
        if (n > 0) tiles.set(id, layout);
        held += n;
      }
    }
    if (held !== e.total) return undefined;
  }
  return tiles;
}

/** Whether slot `s` holds entry `e`'s variable and field as the dataset stores it. */
function holds(s: VarSlot, e: Entry): boolean {
  return s.variable === e.slot.variable && holdsField(s, e.field.path, e.field.type, e.field.count);
}
