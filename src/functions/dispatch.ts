/**
 * Hands pipeline runs to the node the placement chose: this process's own
 * runtime directly, any other live runtime with `POST /v1/runs` over HTTP.
 *
 * @module
 */

import { controlCall } from "../cluster/control_call.ts";
import { errorBody, StrataError, UnavailableError } from "../errors.ts";
import { MAX_LIMITS } from "./limits.ts";
import type { RunJob, RunOutcome } from "./run_job.ts";

/** A live node that can run jobs. */
export interface RunNode {
  /** Node name. */
  readonly id: string;
  /** Where its runtime's HTTP API answers. */
  readonly url: string;
}

/** Options of a `RunDispatcher`. */
export interface DispatchOptions {
  /** This process's runtime, when it has one: its node name and how it runs a job. */
  readonly local?: { readonly node: string; run(job: RunJob): Promise<RunOutcome> };
  /** The live nodes (the registry's leases). */
  readonly nodes: () => Promise<readonly RunNode[]>;
  /** Bearer token of the runtimes, when they require one. */
  readonly token?: string;
}

/** Time a run handed to another node may take beyond its calls' time limits: a minute. */
export const RUN_MARGIN_MS = 60_000;

/**
 * How long a node may take to answer a run of `calls` calls, each limited
 * to `timeMs`: their limits one after the other, and `RUN_MARGIN_MS` for
 * reading and publishing the data.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { runTimeoutMs } from "./dispatch.ts";
 * assert.equal(runTimeoutMs(2_000, 3), 66_000);
 * ```
 */
export function runTimeoutMs(timeMs: number, calls: number): number {
  return RUN_MARGIN_MS + timeMs * Math.max(1, calls);
}

/**
 * Runs jobs where they are sent.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RunDispatcher } from "./dispatch.ts";
 * const d = new RunDispatcher({
 *   local: { node: "n1", run: () => Promise.resolve({ ok: true, calls: 1, published: [], node: "n1" }) },
 *   nodes: () => Promise.resolve([]),
 * });
 * assert.deepEqual(await d.nodes(), ["n1"]);
 * const job = {
 *   function: { name: "h", version: 1, digest: "sha256:00" },
 *   source: { dataset: "p", version: 1 },
 *   units: [{}],
 * };
 * assert.equal((await d.run("n1", job)).ok, true);
 * await assert.rejects(d.run("n9", job), /Node 'n9' is not live/);
 * ```
 */
export class RunDispatcher {
  readonly #local: DispatchOptions["local"];
  readonly #nodes: DispatchOptions["nodes"];
  readonly #token: string | undefined;

  /** Creates a dispatcher. */
  constructor(options: DispatchOptions) {
    this.#local = options.local;
    this.#nodes = options.nodes;
    this.#token = options.token;
  }

  /** Names of the nodes that can run jobs: this one (when it has a runtime) and every live one. */
  async nodes(): Promise<string[]> {
    const ids = new Set<string>();
    if (this.#local !== undefined) ids.add(this.#local.node);
    for (const n of await this.#nodes()) ids.add(n.id);
    return [...ids];
  }

  /**
   * Runs `job` on `node`. `UnavailableError` when the node is not live or
   * has not answered within `timeoutMs` (default: `runTimeoutMs` of the
   * longest time limit a function may have; the caller may send the job
   * elsewhere); any other failure is the outcome's.
   */
  async run(
    node: string,
    job: RunJob,
    timeoutMs = runTimeoutMs(MAX_LIMITS.timeMs, job.units.length),
  ): Promise<RunOutcome> {
    if (this.#local !== undefined && node === this.#local.node) return await this.#local.run(job);
    const entry = (await this.#nodes()).find((n) => n.id === node);
    if (entry === undefined) throw new UnavailableError(`Node '${node}' is not live`);
    try {
      return await controlCall<RunOutcome>(entry.url.replace(/\/+$/, ""), "POST", "/v1/runs", job, {
        ...(this.#token === undefined ? {} : { token: this.#token }),
        peer: `Node '${node}' at ${entry.url}`,
        timeoutMs,
      });
    } catch (e) {
      // Unreachable: the caller may send the job elsewhere. Refused: the run's outcome.
      if (e instanceof UnavailableError || !(e instanceof StrataError)) throw e;
      return { ok: false, error: errorBody(e), published: [], node };
    }
  }
}
