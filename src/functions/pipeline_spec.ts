/**
 * What a pipeline is: on each commit of a source dataset, run a function
 * (by alias or version) and publish its output at the same version number,
 * or keep the merged value. Pure: the checks of a pipeline's definition.
 *
 * @module
 */

import { InvalidRequestError } from "../errors.ts";
import { NAME_PATTERN } from "../registry/validate.ts";

/** Where a pipeline's function runs. */
export type PlacementMode = "in-situ" | "in-transit" | "auto";

/** A pipeline's definition. */
export interface PipelineSpec {
  /** Pipeline name. */
  readonly name: string;
  /** The dataset whose commits trigger it. */
  readonly source: string;
  /** The function it runs. */
  readonly function: string;
  /** Which version: an alias (default `latest`) or a version number. */
  readonly use: string | number;
  /** The derived dataset its outputs are published into (dataset outputs only). */
  readonly output?: string;
  /** Arguments handed to every call as `ctx.args`. */
  readonly args?: unknown;
  /** Where it runs: pinned `in-situ` or `in-transit`, or `auto` (the placement policy decides). */
  readonly placement: PlacementMode;
  /** Attempts after a failure (default 2). */
  readonly retries: number;
  /** Wait before the first retry, doubled before each next one, in ms (default 100). */
  readonly retryDelayMs: number;
  /** Source versions that may wait for a run; past it the oldest is skipped (default 16). */
  readonly queue: number;
  /** Runs, results and lineage kept per pipeline (default 32). */
  readonly keep: number;
}

const MODES: readonly PlacementMode[] = ["in-situ", "in-transit", "auto"];

/**
 * Checks a pipeline definition from a request body and fills in defaults;
 * throws `InvalidRequestError` naming the field.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parsePipelineSpec } from "./pipeline_spec.ts";
 * const p = parsePipelineSpec("hist", { source: "particles", function: "histogram", use: "prod" });
 * assert.deepEqual([p.placement, p.retries, p.use], ["auto", 2, "prod"]);
 * assert.throws(() => parsePipelineSpec("hist", { source: "particles" }), { code: "invalid_request" });
 * ```
 */
export function parsePipelineSpec(name: string, body: unknown): PipelineSpec {
  const bad = (detail: string): never => {
    throw new InvalidRequestError(`Invalid pipeline '${name}': ${detail}`);
  };
  if (!NAME_PATTERN.test(name)) bad("expected a name of letters, digits, '_', '.' or '-'");
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    bad("expected an object with 'source' and 'function'");
  }
  const b = body as Record<string, unknown>;
  const known = [
    "source",
    "function",
    "use",
    "output",
    "args",
    "placement",
    "retries",
    "retryDelayMs",
    "queue",
    "keep",
  ];
  for (const k of Object.keys(b)) if (!known.includes(k)) bad(`unknown field '${k}'`);
  const nameOf = (k: string): string => {
    const v = b[k];
    if (typeof v !== "string" || !NAME_PATTERN.test(v)) bad(`expected '${k}' to be a name`);
    return v as string;
  };
  const int = (k: string, dflt: number, min: number, max: number): number => {
    const v = b[k] ?? dflt;
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < min || v > max) {
      bad(`expected '${k}' to be an integer from ${min} to ${max}, found ${JSON.stringify(v)}`);
    }
    return v as number;
  };
  const use = b.use ?? "latest";
  if (
    !(typeof use === "string" && NAME_PATTERN.test(use)) &&
    !(typeof use === "number" && Number.isSafeInteger(use) && use >= 1)
  ) bad("expected 'use' to be an alias or a version number");
  const placement = b.placement ?? "auto";
  if (!MODES.includes(placement as PlacementMode)) {
    bad(
      `expected 'placement' to be one of ${MODES.join(", ")}, found ${JSON.stringify(placement)}`,
    );
  }
  const spec: PipelineSpec = {
    name,
    source: nameOf("source"),
    function: nameOf("function"),
    use: use as string | number,
    placement: placement as PlacementMode,
    retries: int("retries", 2, 0, 10),
    retryDelayMs: int("retryDelayMs", 100, 0, 60_000),
    queue: int("queue", 16, 1, 1024),
    keep: int("keep", 32, 1, 1024),
    ...(b.output === undefined ? {} : { output: nameOf("output") }),
    ...(b.args === undefined ? {} : { args: b.args }),
  };
  if (spec.output === spec.source) bad("its output cannot be its own source");
  return spec;
}

/**
 * Whether adding `spec` makes pipelines feed each other in a loop (a
 * pipeline's output is, through others, its own source).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formsCycle } from "./pipeline_spec.ts";
 * const others = [{ name: "a", source: "x", output: "y" }];
 * assert.equal(formsCycle({ name: "b", source: "y", output: "x" }, others), true);
 * assert.equal(formsCycle({ name: "b", source: "y", output: "z" }, others), false);
 * ```
 */
export function formsCycle(
  spec: Pick<PipelineSpec, "name" | "source" | "output">,
  others: readonly Pick<PipelineSpec, "name" | "source" | "output">[],
): boolean {
  const edges = new Map<string, string[]>();
  for (const p of [...others.filter((o) => o.name !== spec.name), spec]) {
    if (p.output === undefined) continue;
    edges.set(p.source, [...(edges.get(p.source) ?? []), p.output]);
  }
  const seen = new Set<string>();
  const stack = spec.output === undefined ? [] : [spec.output];
  while (stack.length > 0) {
    const d = stack.pop()!;
    if (d === spec.source) return true;
    if (seen.has(d)) continue;
    seen.add(d);
    stack.push(...(edges.get(d) ?? []));
  }
  return false;
}
