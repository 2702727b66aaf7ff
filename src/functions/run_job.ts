/**
 * A pipeline run handed to a node: one exact function version on the units
 * (regions) of one source version, and what to do with the results. The
 * node that runs it attaches the input where it is (in situ) or over the
 * data plane (in transit), and publishes dataset outputs itself, so output
 * bytes stay where they were computed.
 *
 * @module
 */

import { type ErrorBody, InvalidRequestError } from "../errors.ts";

/** A run of one function version on the units of one source version. */
export interface RunJob {
  /** The exact function version, checked by digest on the node that runs it. */
  readonly function: { readonly name: string; readonly version: number; readonly digest: string };
  /** The source dataset and committed version. */
  readonly source: { readonly dataset: string; readonly version: number };
  /** The regions to run on: one call each. */
  readonly units: readonly Readonly<Record<string, number>>[];
  /** `ctx.args`. */
  readonly args?: unknown;
  /**
   * For a function with a dataset output: the output dataset and fragment
   * each unit's result is published into (at the source version), binding
   * `params` from the unit's parameters. Absent for value outputs: the
   * results are merged into one value.
   */
  readonly output?: {
    readonly dataset: string;
    readonly fragment: string;
    readonly params: readonly string[];
  };
  /** Units already published by an earlier attempt (`unitKey`), skipped. */
  readonly skip?: readonly string[];
  /**
   * Where reshapes of the input run: on the nodes holding the copies
   * (`source`), or on the node running the job (`destination`). Absent: the
   * copies' placement, else the size rule of the data plane. A run sent in
   * transit to spare the producer reshapes at the destination, so the
   * producer's node only sends bytes.
   */
  readonly reshape?: "source" | "destination";
}

/** What a run came to. `published` lists the units published, even when it failed. */
export type RunOutcome =
  | {
    readonly ok: true;
    /** The merged value's JSON text (value outputs). */
    readonly json?: string;
    /** Calls made. */
    readonly calls: number;
    /** Units published (dataset outputs), as `unitKey`s. */
    readonly published: readonly string[];
    /** The node it ran on. */
    readonly node: string;
  }
  | {
    readonly ok: false;
    /** Why it failed: the error's code, message and fields (`errorBody()`). */
    readonly error: ErrorBody;
    /** Units published before it failed. */
    readonly published: readonly string[];
    /** The node it ran on. */
    readonly node: string;
  };

/**
 * The key of a unit: its parameters as sorted JSON.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { unitKey } from "./run_job.ts";
 * assert.equal(unitKey({ hi: 8, lo: 0 }), unitKey({ lo: 0, hi: 8 }));
 * ```
 */
export function unitKey(params: Readonly<Record<string, number>>): string {
  return JSON.stringify(Object.fromEntries(Object.entries(params).sort()));
}

/**
 * Checks a job received over HTTP; `InvalidRequestError` naming what is
 * wrong.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseRunJob } from "./run_job.ts";
 * const job = parseRunJob({
 *   function: { name: "histogram", version: 1, digest: "sha256:00" },
 *   source: { dataset: "particles", version: 3 },
 *   units: [{ lo: 0, hi: 8 }],
 * });
 * assert.equal(job.units.length, 1);
 * assert.throws(() => parseRunJob({ units: [] }), /Invalid run: 'function'/);
 * assert.throws(
 *   () => parseRunJob({ ...job, reshape: "here" }),
 *   /Invalid run: 'reshape' must be 'source' or 'destination', found "here"/,
 * );
 * ```
 */
export function parseRunJob(body: unknown): RunJob {
  const o = record(body, "the body");
  const fn = record(o.function, "'function'");
  const source = record(o.source, "'source'");
  const job: {
    -readonly [K in keyof RunJob]: RunJob[K];
  } = {
    function: {
      name: text(fn.name, "'function.name'"),
      version: count(fn.version, "'function.version'", 1),
      digest: text(fn.digest, "'function.digest'"),
    },
    source: {
      dataset: text(source.dataset, "'source.dataset'"),
      version: count(source.version, "'source.version'", 1),
    },
    units: list(o.units, "'units'").map((u, i) => {
      const params = record(u, `'units[${i}]'`);
      for (const [k, v] of Object.entries(params)) count(v, `'units[${i}].${k}'`, 0);
      return params as Record<string, number>;
    }),
  };
  if (o.args !== undefined) job.args = o.args;
  if (o.output !== undefined) {
    const out = record(o.output, "'output'");
    job.output = {
      dataset: text(out.dataset, "'output.dataset'"),
      fragment: text(out.fragment, "'output.fragment'"),
      params: list(out.params, "'output.params'").map((p, i) => text(p, `'output.params[${i}]'`)),
    };
  }
  if (o.skip !== undefined) {
    job.skip = list(o.skip, "'skip'").map((s, i) => text(s, `'skip[${i}]'`));
  }
  if (o.reshape !== undefined) {
    if (o.reshape !== "source" && o.reshape !== "destination") {
      fail("'reshape'", "'source' or 'destination'", o.reshape);
    }
    job.reshape = o.reshape;
  }
  return job;
}

function fail(what: string, expected: string, found: unknown): never {
  throw new InvalidRequestError(
    `Invalid run: ${what} must be ${expected}, found ${JSON.stringify(found) ?? "nothing"}`,
  );
}

function record(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) fail(what, "an object", v);
  return v as Record<string, unknown>;
}

function list(v: unknown, what: string): unknown[] {
  if (!Array.isArray(v)) fail(what, "a list", v);
  return v;
}

function text(v: unknown, what: string): string {
  if (typeof v !== "string" || v === "") fail(what, "a non-empty string", v);
  return v;
}

function count(v: unknown, what: string, min: number): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < min) {
    fail(what, `an integer >= ${min}`, v);
  }
  return v;
}
