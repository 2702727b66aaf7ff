/**
 * The dry run of a deploy: the module loads in a sandbox, its declaration
 * is read, and it runs on a sample of its declared input (and merges two
 * sample results when it exports `merge`) before the version is stored.
 *
 * @module
 */

import { FunctionFailedError, InvalidFunctionError, LimitExceededError } from "../errors.ts";
import {
  type Declaration,
  parseDeclaration,
  sampleLayout,
  sampleOutputLayout,
} from "./declaration.ts";
import { type FieldEntry, fieldTable } from "./fields.ts";
import { type Lease, type Loadable, LoadFailed, type SandboxPool } from "./pool.ts";
import { sampleBytes } from "./sample.ts";
import { packResult, requestSandbox } from "./_sandbox_request.ts";

/** Loads `module`, reads its declaration and runs it on samples; the declaration. */
export async function dryRun(
  pool: SandboxPool,
  name: string,
  digest: string,
  module: Loadable,
): Promise<Declaration> {
  const decl = await declarationOf(pool, name, module);
  const record = { name, version: 0, limits: module.limits };
  const layout = sampleLayout(decl);
  // The sample is made in the service's process before the sandbox sees it,
  // and must fit in the sandbox with room for the function's own work.
  const most = Math.floor(module.limits.memoryBytes / 2);
  if (layout.byteLength > most) {
    throw new InvalidFunctionError(
      name,
      "dry-run",
      `the sample input takes ${layout.byteLength} bytes, over half the memory limit (${most}): export a smaller 'sample', or raise limits.memoryBytes`,
    );
  }
  const fields = fieldTable(layout);
  const runs: string[] = [];
  for (const seed of decl.merge ? [1, 2] : [1]) {
    const json = await sampleRun(pool, {
      name,
      digest,
      module,
      decl,
      fields,
      byteLength: layout.byteLength,
      seed,
    });
    if (json !== undefined) runs.push(json);
  }
  if (runs.length === 2) {
    await requestSandbox(pool, record, module, { t: "reduce", values: runs }, []).catch(
      failedDryRun(name),
    );
  }
  return decl;
}

/** The declaration `module` exports; `InvalidFunctionError` when it does not load. */
async function declarationOf(
  pool: SandboxPool,
  name: string,
  module: Loadable,
): Promise<Declaration> {
  let lease: Lease;
  try {
    lease = await pool.acquire(module);
  } catch (e) {
    if (e instanceof LoadFailed) {
      throw new InvalidFunctionError(name, "dry-run", `the module does not load: ${e.message}`);
    }
    throw e;
  }
  try {
    return parseDeclaration(name, lease.exports);
  } finally {
    lease.release();
  }
}

/** One run on a sample (seeded `seed`): the JSON of a value result, undefined for a dataset's. */
async function sampleRun(
  pool: SandboxPool,
  run: {
    readonly name: string;
    readonly digest: string;
    readonly module: Loadable;
    readonly decl: Declaration;
    readonly fields: FieldEntry[];
    readonly byteLength: number;
    readonly seed: number;
  },
): Promise<string | undefined> {
  const { name, digest, module, decl, fields } = run;
  const record = { name, version: 0, limits: module.limits };
  const fail = failedDryRun(name);
  const bytes = sampleBytes(run.byteLength, fields, run.seed);
  const buffer = bytes.buffer as ArrayBuffer;
  const ctx = {
    function: { name, version: 0, digest },
    dataset: "sample",
    version: 0,
    params: Object.fromEntries(decl.params.map((p) => [p, decl.sample[p]!])),
    args: null,
    dryRun: true,
  };
  const reply = await requestSandbox(
    pool,
    record,
    module,
    {
      t: "run",
      buffer,
      call: { fields, base: 0, ctx },
      output: decl.output.kind === "value" ? "value" : "arrays",
    },
    [buffer],
  ).catch(fail);
  if (decl.output.kind === "value") return reply.json!;
  try {
    packResult(record, sampleOutputLayout(decl), reply.arrays);
  } catch (e) {
    fail(e);
  }
  return undefined;
}

/** Turns a sample run's failure into the deploy's `InvalidFunctionError`. */
function failedDryRun(name: string): (e: unknown) => never {
  return (e) => {
    if (e instanceof LimitExceededError || e instanceof FunctionFailedError) {
      const detail = e.message.replace(/^Function '[^']*' version 0 /, "");
      throw new InvalidFunctionError(name, "dry-run", `the sample run ${detail}`, { cause: e });
    }
    throw e;
  };
}
