/**
 * Transform engine benchmark: each hot shape on 8M-element arrays, next to a
 * loop written by hand for that exact shape and to a memcpy of the same source
 * bytes, all measured in the same run (best of several repetitions after a
 * warm-up). Throughput counts bytes read plus bytes written.
 *
 * Run: `deno run --allow-read=. --allow-write=bench/results --allow-hrtime bench/transform_bench.ts`
 *
 * @module
 */

import { writeResultFiles } from "./_results.ts";
import {
  compilePlan,
  executePlan,
  type FieldSlot,
  type FragmentLayout,
  type ScalarType,
} from "../src/transform/mod.ts";

/** Elements per array: 8M structs, or 8M float64 for conversion and transpose. */
export const N = 8 * 1024 * 1024;
const ROWS = 2048;
const COLS = 4096;
const REPS = 9;

/** One measured shape. */
export interface ShapeResult {
  /** Shape name. */
  readonly shape: string;
  /** Bytes read plus bytes written by one transform. */
  readonly bytes: number;
  /** Best time of the engine (ms). */
  readonly engineMs: number;
  /** Best time of the hand-written loop (ms). */
  readonly handMs: number;
  /** Best time of a memcpy of the source bytes (ms). */
  readonly memcpyMs: number;
  /** Engine throughput, GB/s (1e9 bytes) of bytes read + written. */
  readonly engineGBs: number;
  /** Hand-written loop throughput, GB/s. */
  readonly handGBs: number;
  /** memcpy throughput, GB/s (source bytes read + written). */
  readonly memcpyGBs: number;
  /** Engine throughput / hand-written throughput. */
  readonly vsHand: number;
  /** Engine throughput / memcpy throughput. */
  readonly vsMemcpy: number;
  /** Goal for vsMemcpy (0.5, or 0.3 for the transpose). */
  readonly memcpyGoal: number;
  /** Whether the engine's output equalled the hand-written loop's. */
  readonly verified: boolean;
}

/** Everything one run of the benchmark measured. */
export interface TransformBenchResult {
  /** Where and when it ran. */
  readonly machine: {
    readonly date: string;
    readonly deno: string;
    readonly v8: string;
    readonly build: typeof Deno.build;
    readonly hardwareConcurrency: number;
  };
  /** Elements per array. */
  readonly elements: number;
  /** Repetitions per measurement (best kept), after one warm-up. */
  readonly repetitions: number;
  /** One entry per shape. */
  readonly shapes: readonly ShapeResult[];
}

function slot(
  counts: readonly number[],
  dims: readonly number[],
  fields: readonly FieldSlot[],
): FragmentLayout["slots"][number] {
  return {
    name: "v",
    variable: "v",
    origin: counts.map(() => 0),
    axes: dims.map((dim) => ({ dim, step: 1, count: counts[dim]! })),
    fields,
  };
}

function field(path: string, type: ScalarType, offset: number, strides: number[]): FieldSlot {
  return { path, type, count: 1, offset, strides };
}

const XYZW = ["x", "y", "z", "w"];

function aos(paths: readonly string[]): FragmentLayout {
  const size = 8 * paths.length;
  return {
    byteLength: N * size,
    slots: [slot([N], [0], paths.map((p, i) => field(p, "float64", 8 * i, [size])))],
  };
}

function soa(paths: readonly string[]): FragmentLayout {
  return {
    byteLength: N * 8 * paths.length,
    slots: [slot([N], [0], paths.map((p, i) => field(p, "float64", 8 * N * i, [8])))],
  };
}

function vector(type: ScalarType, size: number): FragmentLayout {
  return { byteLength: N * size, slots: [slot([N], [0], [field("", type, 0, [size])])] };
}

function matrix(transposed: boolean): FragmentLayout {
  // Variable [ROWS, COLS] float64; the transposed layout walks columns first.
  const axes = transposed ? [1, 0] : [0, 1];
  const strides = transposed ? [8 * ROWS, 8] : [8 * COLS, 8];
  return {
    byteLength: ROWS * COLS * 8,
    slots: [slot([ROWS, COLS], axes, [field("", "float64", 0, strides)])],
  };
}

/**
 * Best time of each function, running them in turn (after one warm-up run
 * each) so that a slow phase of the machine affects all of them alike.
 */
function bestOf(runs: readonly (() => void)[]): number[] {
  const best = runs.map(() => Infinity);
  for (const run of runs) run();
  for (let r = 0; r < REPS; r++) {
    runs.forEach((run, i) => {
      const start = performance.now();
      run();
      best[i] = Math.min(best[i]!, performance.now() - start);
    });
  }
  return best;
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  const x = new Int32Array(a.buffer, a.byteOffset, a.byteLength >> 2);
  const y = new Int32Array(b.buffer, b.byteOffset, b.byteLength >> 2);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

function fill(bytes: Uint8Array): Uint8Array {
  // Distinct, finite values so a misplaced element is seen.
  const f = new Float64Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >> 3);
  for (let i = 0; i < f.length; i++) f[i] = i * 1.25 + 0.5;
  return bytes;
}

interface Shape {
  name: string;
  source: FragmentLayout;
  target: FragmentLayout;
  memcpyGoal: number;
  hand: (src: Uint8Array, dst: Uint8Array) => void;
}

// Hand-written loops: what a programmer would write for each shape alone.
function handAosToSoa(s: Uint8Array, d: Uint8Array): void {
  const src = new Float64Array(s.buffer);
  const dst = new Float64Array(d.buffer);
  const n = N;
  for (let i = 0; i < n; i++) {
    const j = 4 * i;
    dst[i] = src[j]!;
    dst[n + i] = src[j + 1]!;
    dst[2 * n + i] = src[j + 2]!;
    dst[3 * n + i] = src[j + 3]!;
  }
}

function handSoaToAos(s: Uint8Array, d: Uint8Array): void {
  const src = new Float64Array(s.buffer);
  const dst = new Float64Array(d.buffer);
  const n = N;
  for (let i = 0; i < n; i++) {
    const j = 4 * i;
    dst[j] = src[i]!;
    dst[j + 1] = src[n + i]!;
    dst[j + 2] = src[2 * n + i]!;
    dst[j + 3] = src[3 * n + i]!;
  }
}

function handSubset(s: Uint8Array, d: Uint8Array): void {
  const src = new Float64Array(s.buffer);
  const dst = new Float64Array(d.buffer);
  for (let i = 0; i < N; i++) {
    dst[2 * i] = src[4 * i]!;
    dst[2 * i + 1] = src[4 * i + 1]!;
  }
}

function handNarrow(s: Uint8Array, d: Uint8Array): void {
  const src = new Float64Array(s.buffer);
  const dst = new Float32Array(d.buffer);
  for (let i = 0; i < N; i++) dst[i] = src[i]!;
}

function handTranspose(s: Uint8Array, d: Uint8Array): void {
  // As a careful programmer would write it: 32 x 32 tiles walked in 4 x 4
  // register blocks (a plain tiled loop reaches about two thirds of this).
  const src = new Float64Array(s.buffer);
  const dst = new Float64Array(d.buffer);
  const B = 32;
  for (let c0 = 0; c0 < COLS; c0 += B) {
    for (let r0 = 0; r0 < ROWS; r0 += B) {
      for (let c = c0; c < c0 + B; c += 4) {
        for (let r = r0; r < r0 + B; r += 4) {
          const a = r * COLS + c;
          const b = c * ROWS + r;
          for (let k = 0; k < 4; k++) {
            const o = b + k * ROWS;
            const q = a + k;
            dst[o] = src[q]!;
            dst[o + 1] = src[q + COLS]!;
            dst[o + 2] = src[q + 2 * COLS]!;
            dst[o + 3] = src[q + 3 * COLS]!;
          }
        }
      }
    }
  }
}

const SHAPES: readonly Shape[] = [
  {
    name: "AoS -> SoA (4 x float64)",
    source: aos(XYZW),
    target: soa(XYZW),
    memcpyGoal: 0.5,
    hand: handAosToSoa,
  },
  {
    name: "SoA -> AoS (4 x float64)",
    source: soa(XYZW),
    target: aos(XYZW),
    memcpyGoal: 0.5,
    hand: handSoaToAos,
  },
  {
    name: "field subset (x, y of 4)",
    source: aos(XYZW),
    target: aos(["x", "y"]),
    memcpyGoal: 0.5,
    hand: handSubset,
  },
  {
    name: "float64 -> float32",
    source: vector("float64", 8),
    target: vector("float32", 4),
    memcpyGoal: 0.5,
    hand: handNarrow,
  },
  {
    name: "transpose 2048 x 4096 float64",
    source: matrix(false),
    target: matrix(true),
    memcpyGoal: 0.3,
    hand: handTranspose,
  },
];

/**
 * Runs small plans of every numeric conversion and of the benchmark's own
 * layouts over other scalar types first, so the engine is measured as a
 * long-running service would be, with many kernels alive (a kernel whose
 * code were shared across types would turn polymorphic here and show it).
 */
function prime(): void {
  const types = [
    "int8",
    "uint8",
    "int16",
    "uint16",
    "int32",
    "uint32",
    "float32",
    "float64",
  ] as const;
  const n = 4096;
  const small = (type: ScalarType, size: number): FragmentLayout => ({
    byteLength: n * size,
    slots: [slot([n], [0], [field("", type, 0, [size])])],
  });
  const size = (t: (typeof types)[number]) => Number(t.replace(/\D/g, "")) / 8;
  for (const from of types) {
    for (const to of types) {
      const plan = compilePlan([small(from, size(from))], small(to, size(to)));
      for (let r = 0; r < 20; r++) {
        executePlan(plan, [new Uint8Array(n * size(from))], new Uint8Array(n * size(to)));
      }
    }
  }
  for (const type of ["uint32", "int64", "float32"] as const) {
    const w = type === "int64" ? 8 : 4;
    const fields = (stride: (i: number) => [number, number]) =>
      XYZW.map((p, i) => field(p, type, stride(i)[0], [stride(i)[1]]));
    const structs = {
      byteLength: n * 4 * w,
      slots: [slot([n], [0], fields((i) => [w * i, 4 * w]))],
    };
    const columns = {
      byteLength: n * 4 * w,
      slots: [slot([n], [0], fields((i) => [n * w * i, w]))],
    };
    for (const [a, b] of [[structs, columns], [columns, structs]]) {
      const plan = compilePlan([a!], b!);
      for (let r = 0; r < 20; r++) {
        executePlan(plan, [new Uint8Array(a!.byteLength)], new Uint8Array(b!.byteLength));
      }
    }
  }
}

function measure(shape: Shape): ShapeResult {
  const src = fill(new Uint8Array(shape.source.byteLength));
  const engineOut = new Uint8Array(shape.target.byteLength);
  const handOut = new Uint8Array(shape.target.byteLength);
  const plan = compilePlan([shape.source], shape.target);
  const copy = new Uint8Array(src.byteLength);
  const [engineMs, handMs, memcpyMs] = bestOf([
    () => executePlan(plan, [src], engineOut),
    () => shape.hand(src, handOut),
    () => copy.set(src),
  ]) as [number, number, number];
  const bytes = src.byteLength + engineOut.byteLength;
  const gbs = (b: number, ms: number) => b / ms / 1e6;
  const engineGBs = gbs(bytes, engineMs);
  const handGBs = gbs(bytes, handMs);
  const memcpyGBs = gbs(2 * src.byteLength, memcpyMs);
  return {
    shape: shape.name,
    bytes,
    engineMs,
    handMs,
    memcpyMs,
    engineGBs,
    handGBs,
    memcpyGBs,
    vsHand: engineGBs / handGBs,
    vsMemcpy: engineGBs / memcpyGBs,
    memcpyGoal: shape.memcpyGoal,
    verified: equal(engineOut, handOut),
  };
}

/** The results as a Markdown report. */
export function formatReport(result: TransformBenchResult): string {
  const m = result.machine;
  const lines = [
    "# Transform engine benchmark",
    "",
    `${m.date}, Deno ${m.deno} (V8 ${m.v8}), ${m.build.target}, ${m.hardwareConcurrency} CPUs.`,
    `${result.elements} elements per array; best of ${result.repetitions} runs after a warm-up,`,
    "engine first primed with small plans of every numeric conversion and of AoS <-> SoA over",
    "other types (as a long-running service would be);",
    "GB/s = (bytes read + bytes written) / time, 1 GB = 1e9 bytes; memcpy copies the source bytes",
    "with `Uint8Array.prototype.set`.",
    "",
    "| shape | engine GB/s | hand-written GB/s | memcpy GB/s | vs hand | vs memcpy (goal) | output = hand |",
    "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
  ];
  for (const s of result.shapes) {
    lines.push(
      `| ${s.shape} | ${s.engineGBs.toFixed(2)} | ${s.handGBs.toFixed(2)} | ${
        s.memcpyGBs.toFixed(2)
      } | ${s.vsHand.toFixed(2)}x | ${s.vsMemcpy.toFixed(2)}x (${s.memcpyGoal}) | ${
        s.verified ? "yes" : "NO"
      } |`,
    );
  }
  return lines.join("\n") + "\n";
}

/**
 * Runs every shape, prints a table, and writes `bench/results/transform.json`
 * and `bench/results/transform.md`.
 */
export async function transformBench(): Promise<TransformBenchResult> {
  prime();
  const shapes = SHAPES.map(measure);
  const result: TransformBenchResult = {
    machine: {
      date: new Date().toISOString(),
      deno: Deno.version.deno,
      v8: Deno.version.v8,
      build: Deno.build,
      hardwareConcurrency: navigator.hardwareConcurrency,
    },
    elements: N,
    repetitions: REPS,
    shapes,
  };
  const report = formatReport(result);
  console.log(report);
  await writeResultFiles("transform", result, report);
  return result;
}

if (import.meta.main) await transformBench();
