/**
 * What every data-plane benchmark writes: its points as JSON and a Markdown
 * table under bench/results/, headed by the machine they were measured on.
 *
 * @module
 */

import { chartSvg } from "./_chart.ts";
import { MALLOC_TUNABLES, readTunables } from "../src/cli/malloc_tunables.ts";

/** The machine a run was measured on. */
export interface Machine {
  /** When, ISO 8601. */
  readonly date: string;
  /** Deno version. */
  readonly deno: string;
  /** Target triple. */
  readonly build: string;
  /** Logical CPUs. */
  readonly cpus: number;
  /**
   * The allocator's settings the benchmark's processes inherit: `strata`
   * (src/cli/malloc_tunables.ts, as `deno task bench` starts it), `default`
   * (glibc's), `other`, or `unknown` (`GLIBC_TUNABLES` not readable).
   */
  readonly allocator: "strata" | "default" | "other" | "unknown";
}

/**
 * This machine, now.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { machine } from "./_results.ts";
 * assert.equal(machine().deno, Deno.version.deno);
 * ```
 */
export function machine(): Machine {
  return {
    date: new Date().toISOString(),
    deno: Deno.version.deno,
    build: Deno.build.target,
    cpus: navigator.hardwareConcurrency,
    allocator: allocator(),
  };
}

function allocator(): Machine["allocator"] {
  const value = readTunables();
  if (value === undefined) return "unknown";
  return value === MALLOC_TUNABLES ? "strata" : value === "" ? "default" : "other";
}

/** How the machine line names the allocator's settings. */
const ALLOCATOR_TEXT: Record<Machine["allocator"], string> = {
  strata: "Strata's allocator settings",
  default: "glibc's default allocator settings",
  other: "allocator settings of its own",
  unknown: "allocator settings unknown",
};

/**
 * Writes bench/results/NAME.json (`{machine, points}`) and NAME.md, whose
 * text `markdown` builds from the machine's one-line description.
 */
export async function writeResults(
  name: string,
  points: readonly unknown[],
  markdown: (machineLine: string) => string,
): Promise<void> {
  const m = machine();
  await writeResultFiles(
    name,
    { machine: m, points },
    markdown(
      `${m.date}, Deno ${m.deno}, ${m.build}, ${m.cpus} CPUs, ${ALLOCATOR_TEXT[m.allocator]}.`,
    ),
  );
}

/**
 * Writes bench/results/NAME.json (`json`, as indented JSON), NAME.md
 * (`markdown`) and NAME.svg, the chart of the Markdown's first table (each
 * figure beside its limits and peers; see `_chart.ts`), when it has
 * figures to draw: the one place benchmarks write their results.
 */
export async function writeResultFiles(
  name: string,
  json: unknown,
  markdown: string,
): Promise<void> {
  await Deno.mkdir("bench/results", { recursive: true });
  await Deno.writeTextFile(`bench/results/${name}.json`, JSON.stringify(json, null, 2) + "\n");
  await Deno.writeTextFile(`bench/results/${name}.md`, markdown);
  await writeChart(name, markdown);
}

/**
 * Writes bench/results/NAME.svg from the Markdown result `markdown`, when
 * its first table has figures in a unit; returns whether it wrote one.
 *
 * @example
 * ```ts ignore
 * import { writeChart } from "./_results.ts";
 * await writeChart("transfer", await Deno.readTextFile("bench/results/transfer.md"));
 * ```
 */
export async function writeChart(name: string, markdown: string): Promise<boolean> {
  const svg = chartSvg(markdown, name);
  if (svg === undefined) return false;
  await Deno.writeTextFile(`bench/results/${name}.svg`, svg);
  return true;
}
