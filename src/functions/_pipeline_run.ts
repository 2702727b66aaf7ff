/**
 * Steps of one pipeline run attempt that need no service state: the
 * output dataset made when missing, the job sent to a node, and sending it
 * to the chosen node, then the others in turn while nodes do not answer.
 *
 * @module
 */

import { compileDescription } from "../ddl/mod.ts";
import { ConflictError, NotFoundError, UnavailableError } from "../errors.ts";
import { sizesFor } from "./declaration.ts";
import type { RunDispatcher } from "./dispatch.ts";
import type { PipelineCatalog } from "./pipelines.ts";
import type { RunPlacement } from "./placement.ts";
import type { PipelineSpec } from "./pipeline_spec.ts";
import type { RunJob, RunOutcome } from "./run_job.ts";
import type { Lineage, PlacementRecord } from "./store.ts";
import type { Resolved } from "./service.ts";

/**
 * The job of a run: the function version, its source version, the units to
 * call, and for a dataset output where to publish it and which units are
 * already published (skipped on a retry).
 */
export function runJobOf(
  spec: PipelineSpec,
  fn: Resolved,
  run: {
    readonly version: number;
    readonly units: readonly Readonly<Record<string, number>>[];
    readonly published: ReadonlySet<string>;
    readonly decision: RunPlacement;
    readonly function: Lineage["function"];
  },
): RunJob {
  const output = fn.record.declaration.output;
  return {
    function: run.function,
    source: { dataset: spec.source, version: run.version },
    units: [...run.units],
    ...(spec.args === undefined ? {} : { args: spec.args }),
    ...(output.kind === "dataset"
      ? {
        output: { dataset: spec.output!, fragment: output.fragment, params: output.params },
        skip: [...run.published],
      }
      : {}),
    // In transit to spare the producer: the reshape moves off it too.
    ...(run.decision.decided === "in-transit" ? { reshape: "destination" as const } : {}),
  };
}

/**
 * Sends `job` to the node decided, then, when a node does not answer, to
 * the producers, then to any other live node. Answers the outcome and the
 * placement record (naming the nodes that did not answer); throws
 * `UnavailableError` when none took it.
 */
export async function dispatchInOrder(
  dispatch: RunDispatcher,
  job: RunJob,
  where: {
    readonly requested: PipelineSpec["placement"];
    readonly decision: RunPlacement;
    readonly producers: readonly string[];
    readonly nodes: readonly string[];
    /** How long each node may take to answer (`runTimeoutMs`). */
    readonly timeoutMs?: number;
  },
): Promise<{ outcome: RunOutcome; placement: PlacementRecord }> {
  const { decision, producers, nodes } = where;
  const order = [decision.node, ...producers.filter((n) => nodes.includes(n)), ...nodes]
    .filter((n, i, all) => all.indexOf(n) === i);
  const unreachable: string[] = [];
  for (const node of order) {
    let outcome: RunOutcome;
    try {
      outcome = await dispatch.run(node, job, where.timeoutMs);
    } catch (e) {
      if (!(e instanceof UnavailableError)) throw e;
      unreachable.push(e.message);
      continue;
    }
    const placement: PlacementRecord = {
      requested: where.requested,
      ...decision,
      ranOn: outcome.node,
      ...(unreachable.length === 0 ? {} : { reason: `${decision.reason}; ${unreachable[0]}` }),
    };
    return { outcome, placement };
  }
  throw new UnavailableError(`No node could take the run: ${unreachable.join("; ")}`);
}

/**
 * Creates the pipeline's output dataset when it does not exist yet, with
 * the function's output description, the source's sizes and retention.
 * Another run creating it first is fine.
 */
export async function ensureOutput(
  catalog: PipelineCatalog,
  spec: PipelineSpec,
  fn: Resolved,
): Promise<void> {
  const output = fn.record.declaration.output;
  if (output.kind !== "dataset" || spec.output === undefined) return;
  try {
    await catalog.describeDataset(spec.output);
    return;
  } catch (e) {
    if (!(e instanceof NotFoundError)) throw e;
  }
  let sizes: Record<string, number> = {};
  let retention: number | undefined;
  try {
    const source = await catalog.describeDataset(spec.source);
    sizes = sizesFor(compileDescription(output.description), source.sizes);
    retention = source.retention;
  } catch (e) {
    if (!(e instanceof NotFoundError)) throw e;
  }
  try {
    await catalog.createDataset({
      name: spec.output,
      description: output.description,
      sizes,
      ...(retention === undefined ? {} : { retention }),
    });
  } catch (e) {
    // Another run created it first.
    if (!(e instanceof ConflictError)) throw e;
  }
}
