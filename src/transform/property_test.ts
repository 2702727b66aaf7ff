import assert from "node:assert/strict";
import { MissingRegionError } from "../errors.ts";
import {
  compilePlan,
  executePlan,
  formatPlan,
  type FragmentLayout,
  type Plan,
  tasksFor,
} from "./mod.ts";
import {
  type Fragment,
  type Leaf,
  placeSlot,
  Random,
  randomLeaves,
  randomPlacement,
  referenceTransform,
  type Region,
  shifted,
  storedType,
} from "./_testing.ts";
import { touchedPieces } from "./touched.ts";

interface Case {
  sources: Fragment[];
  target: FragmentLayout;
}

function randomRegion(
  r: Random,
  extents: readonly number[],
  box: boolean,
  natural = false,
): Region {
  const origin: number[] = [];
  const axes: Region["axes"] = [];
  extents.forEach((extent, dim) => {
    const mode = box ? "box" : r.pick(["full", "full", "box", "strided", "fixed"]);
    if (mode === "fixed" && extents.length > 1) {
      origin.push(r.int(0, extent - 1));
      return;
    }
    const start = mode === "full" ? 0 : r.int(0, extent - 1);
    const step = mode === "strided" ? r.int(2, 3) : 1;
    const end = mode === "full" ? extent : r.int(start + 1, extent);
    origin.push(start);
    axes.push({ dim, step, count: Math.ceil((end - start) / step) });
  });
  return { origin, axes: natural ? axes : r.shuffle(axes) };
}

/** Splits [0, extent) into 1 to 3 consecutive ranges. */
function split(r: Random, extent: number): [number, number][] {
  const cuts = new Set<number>();
  const n = r.int(0, Math.min(2, extent - 1));
  while (cuts.size < n) cuts.add(r.int(1, extent - 1));
  const points = [0, ...[...cuts].sort((a, b) => a - b), extent];
  return points.slice(1).map((end, i) => [points[i]!, end]);
}

function layoutOf(
  r: Random,
  parts: { region: Region; fields: Leaf[] }[],
  aligned: boolean,
): FragmentLayout {
  let end = 0;
  const slots = parts.map((p) => {
    const placed = placeSlot("v", p.region, p.fields, randomPlacement(r, p.fields.length, aligned));
    const slot = { ...placed.slot, fields: placed.slot.fields.map((f) => ({ ...f })) };
    // Later slots start after the earlier ones.
    const shift = end;
    end = placed.end + shift + r.int(0, 3);
    return { ...slot, fields: slot.fields.map((f) => ({ ...f, offset: f.offset + shift })) };
  });
  return { byteLength: end + r.int(0, 5), slots };
}

function randomCase(r: Random): Case {
  // Wide rows (long contiguous runs, no transposition) in one case out of ten.
  const wide = r.chance(0.1);
  const rank = wide ? 2 : r.chance(0.05) ? 0 : r.int(1, 3);
  const big = rank === 2 && r.chance(0.5);
  const extents = wide
    ? [r.int(2, 6), r.int(70, 150)]
    : Array.from({ length: rank }, () => r.int(1, big ? 40 : 7));
  const leaves = wide
    ? [{ path: "f0", type: r.pick(["float64", "int64", "int32"] as const), count: r.int(1, 2) }]
    : randomLeaves(r);
  const aligned = r.chance(0.5);
  const convert = r.chance(0.5) ? 0.3 : 0;
  const targetFields = () =>
    r.shuffle(leaves.filter(() => r.chance(0.7))).map((l) => ({
      ...l,
      type: storedType(r, l.type, convert),
    }));
  let tf = targetFields();
  if (tf.length === 0) tf = [leaves[0]!];
  const targetParts = [{
    region: wide
      ? {
        origin: [0, 3],
        axes: [
          { dim: 0, step: 1, count: extents[0]! },
          { dim: 1, step: 1, count: extents[1]! - 3 - r.int(1, 3) },
        ],
      }
      : randomRegion(r, extents, false),
    fields: tf,
  }];
  if (r.chance(0.15)) targetParts.push({ region: randomRegion(r, extents, false), fields: tf });
  const target = layoutOf(r, targetParts, aligned);

  const sources: FragmentLayout[] = [];
  const grids = extents.map((
    e,
    d,
  ) => (wide && d === 1 ? [[0, e] as [number, number]] : split(r, e)));
  const blocks: [number, number][][] = [[]];
  for (const ranges of grids) {
    const next: [number, number][][] = [];
    for (const b of blocks) for (const range of ranges) next.push([...b, range]);
    blocks.splice(0, blocks.length, ...next);
  }
  const stored = leaves.map((l) => ({ ...l, type: storedType(r, l.type, convert) }));
  for (const b of blocks) {
    const region: Region = {
      origin: b.map(([s]) => s),
      axes: (wide ? (x: Region["axes"]) => x : r.shuffle.bind(r))(
        b.map(([s, e], dim) => ({ dim, step: 1, count: e - s })),
      ),
    };
    const fields = r.shuffle(stored);
    if (fields.length > 1 && r.chance(0.25)) {
      const k = r.int(1, fields.length - 1);
      sources.push(layoutOf(r, [{ region, fields: fields.slice(0, k) }], aligned));
      sources.push(layoutOf(r, [{ region, fields: fields.slice(k) }], aligned));
    } else {
      sources.push(layoutOf(r, [{ region, fields }], aligned));
    }
  }
  if (r.chance(0.15)) sources.splice(r.int(0, sources.length - 1), 1);
  const extras = r.chance(0.4) ? r.int(1, 2) : 0;
  for (let i = 0; i < extras; i++) {
    const extra = layoutOf(r, [{
      region: randomRegion(r, extents, false),
      fields: r.shuffle(stored),
    }], aligned);
    sources.splice(r.int(0, sources.length), 0, extra);
  }
  if (sources.length > 1 && r.chance(0.2)) {
    // Two regions in one fragment.
    const a = sources.pop()!;
    const b = sources.pop()!;
    sources.push({
      byteLength: a.byteLength + b.byteLength,
      slots: [
        ...a.slots,
        ...b.slots.map((s) => ({
          ...s,
          fields: s.fields.map((f) => ({ ...f, offset: f.offset + a.byteLength })),
        })),
      ],
    });
  }
  return {
    sources: sources.map((layout) => ({ layout, bytes: r.bytes(layout.byteLength) })),
    target,
  };
}

/** Per target slot of the missing field, its elements' variable indices inside the boxes. */
function pointsIn(target: FragmentLayout, e: MissingRegionError): string[][] {
  const out: string[][] = [];
  for (const slot of target.slots) {
    if (slot.variable !== e.variable || !slot.fields.some((f) => f.path === e.field)) continue;
    const points: string[] = [];
    const counts = slot.axes.map((a) => a.count);
    const total = counts.reduce((a, b) => a * b, 1);
    for (let n = 0; n < total; n++) {
      const v = [...slot.origin];
      let rest = n;
      for (let k = slot.axes.length - 1; k >= 0; k--) {
        const a = slot.axes[k]!;
        v[a.dim] = slot.origin[a.dim]! + a.step * (rest % a.count);
        rest = Math.floor(rest / a.count);
      }
      const inside = e.missing.some((b) =>
        v.every((x, d) => x >= b.start[d]! && x < b.start[d]! + b.count[d]!)
      );
      if (inside) points.push(v.join(","));
    }
    out.push([...new Set(points)].sort());
  }
  return out;
}

/** What kinds of tasks a plan runs as, to check that the random cases reach them all. */
function tally(plan: Plan, shifts: number[], seen: Map<string, number>): void {
  const residues = plan.sourceBytes.map((_, i) => shifts[(i + 1) % shifts.length]! % 8);
  for (const t of tasksFor(plan, residues, shifts[0]! % 8)) {
    const kinds: string[] = [t.kind];
    if (t.kind === "loop") {
      if (t.shape.includes("tiled")) kinds.push("tiled");
      if (t.shape.includes("@dv")) kinds.push("dataview");
      if (t.shape.includes("int64")) kinds.push("bigint");
      if (t.shape.split(";").length > 1) kinds.push("fused");
    }
    for (const k of kinds) seen.set(k, (seen.get(k) ?? 0) + 1);
  }
}

function run(plan: Plan, c: Case, initial: Uint8Array, shifts: number[]): Uint8Array {
  const target = shifted(initial, shifts[0]!);
  const sources = c.sources.map((s, i) => shifted(s.bytes, shifts[(i + 1) % shifts.length]!));
  executePlan(plan, sources, target);
  return target;
}

Deno.test("executePlan() matches the reference byte for byte on random layouts", () => {
  const r = new Random(20240607);
  let checked = 0;
  let missing = 0;
  const seen = new Map<string, number>();
  for (let n = 0; n < 600; n++) {
    const c = randomCase(r);
    const initial = r.bytes(c.target.byteLength);
    const expected = initial.slice();
    let refError: unknown;
    try {
      referenceTransform(c.sources, c.target, expected);
    } catch (e) {
      refError = e;
    }
    let plan: Plan;
    try {
      plan = compilePlan(c.sources.map((s) => s.layout), c.target);
    } catch (e) {
      if (!(e instanceof MissingRegionError) || !(refError instanceof MissingRegionError)) throw e;
      assert.equal(e.variable, refError.variable, `case ${n}`);
      assert.equal(e.field, refError.field, `case ${n}`);
      const ref = refError.missing.map((b) => b.start.join(",")).sort();
      // Exact unless the engine had to fall back to bounding boxes (> 64 boxes).
      const expected = [...new Set(ref)];
      const inside = pointsIn(c.target, e);
      assert.ok(
        inside.some((p) =>
          ref.length <= 64
            ? JSON.stringify(p) === JSON.stringify(expected)
            : expected.every((x) => p.includes(x))
        ),
        `case ${n}: ${e.message}, expected ${expected}`,
      );
      missing++;
      continue;
    }
    if (refError !== undefined) throw refError;
    for (const shifts of [[0, 0], [r.int(1, 7), r.int(0, 7), r.int(0, 7)]]) {
      tally(plan, shifts, seen);
      const got = run(plan, c, initial, shifts);
      if (!got.every((b, i) => b === expected[i])) {
        const at = got.findIndex((b, i) => b !== expected[i]);
        assert.fail(
          `case ${n}, shifts ${shifts}: first difference at byte ${at}\n${formatPlan(plan)}\n` +
            JSON.stringify({ target: c.target, sources: c.sources.map((s) => s.layout) }),
        );
      }
    }
    checked++;
  }
  assert.ok(checked > 400, `only ${checked} cases compiled`);
  assert.ok(missing > 20, `only ${missing} cases with missing regions`);
  for (
    const kind of ["memcpy", "rows", "convert", "loop", "tiled", "dataview", "bigint", "fused"]
  ) {
    assert.ok((seen.get(kind) ?? 0) >= 10, `only ${seen.get(kind) ?? 0} ${kind} tasks`);
  }
});

Deno.test("touchedPieces() marks every piece a plan reads, on random layouts", () => {
  const r = new Random(20261205);
  let checked = 0;
  let skipped = 0;
  for (let n = 0; n < 400; n++) {
    const c = randomCase(r);
    let plan: Plan;
    try {
      plan = compilePlan(c.sources.map((s) => s.layout), c.target);
    } catch (e) {
      if (e instanceof MissingRegionError) continue;
      throw e;
    }
    const initial = r.bytes(c.target.byteLength);
    const expected = initial.slice();
    executePlan(plan, c.sources.map((s) => s.bytes), expected);
    // Every byte of a piece not marked is spoiled: the plan must not read one.
    const pieceBytes = r.pick([1, 3, 8, 16, 64]);
    const spoiled = c.sources.map((s, i) => {
      const marks = touchedPieces(plan, i, pieceBytes);
      const bytes = s.bytes.slice();
      marks.forEach((m, p) => {
        if (m === 0) {
          for (let b = p * pieceBytes; b < Math.min((p + 1) * pieceBytes, bytes.length); b++) {
            bytes[b] = ~bytes[b]! & 0xff;
          }
          skipped++;
        }
      });
      return bytes;
    });
    const got = initial.slice();
    executePlan(plan, spoiled, got);
    assert.ok(
      got.every((b, i) => b === expected[i]),
      `case ${n}, pieces of ${pieceBytes}: a plan read a piece not marked\n${formatPlan(plan)}`,
    );
    checked++;
  }
  assert.ok(checked > 250, `only ${checked} cases compiled`);
  assert.ok(skipped > 1000, `only ${skipped} pieces left unmarked`);
});
