/**
 * One request to a function's sandbox process, and the checks of its
 * answer: an error is the call's error, a result over the output limit is
 * `LimitExceededError`, and dataset results are packed into their layout.
 *
 * @module
 */

import { FunctionFailedError, LimitExceededError, StrataError } from "../errors.ts";
import type { FragmentLayout } from "../transform/layout.ts";
import { fieldTable, packOutput } from "./fields.ts";
import { callError } from "./_calls.ts";
import { type Lease, type Loadable, LoadFailed, type SandboxPool } from "./pool.ts";
import type { SandboxReply, SandboxRequest } from "./sandbox.ts";
import type { VersionRecord } from "./store.ts";
import { metrics } from "../observe/mod.ts";

/** A sandbox's answer to a request that succeeded. */
export type Done = Extract<SandboxReply, { t: "done" }>;

/**
 * Sends `message` to a sandbox of `module` from `pool` (`calls` calls'
 * worth of time) and answers its result; the call's error otherwise. Each
 * request is one sample of `strata_function_call_duration_seconds`, by
 * outcome (`ok`, or the failure's code or limit).
 */
export async function requestSandbox(
  pool: SandboxPool,
  record: Pick<VersionRecord, "name" | "version" | "limits">,
  module: Loadable,
  message: SandboxRequest,
  transfer: Transferable[],
  calls = 1,
): Promise<Done> {
  const start = performance.now();
  let outcome = "ok";
  try {
    return await requestOnce(pool, record, module, message, transfer, calls);
  } catch (e) {
    outcome = e instanceof LimitExceededError
      ? `limit_${e.limit}`
      : e instanceof StrataError
      ? e.code
      : "error";
    throw e;
  } finally {
    metrics.functionCalls.observe({ outcome }, (performance.now() - start) / 1000);
  }
}

async function requestOnce(
  pool: SandboxPool,
  record: Pick<VersionRecord, "name" | "version" | "limits">,
  module: Loadable,
  message: SandboxRequest,
  transfer: Transferable[],
  calls: number,
): Promise<Done> {
  let lease: Lease;
  try {
    lease = await pool.acquire(module);
  } catch (e) {
    if (e instanceof LoadFailed) throw callError(record, e.reply);
    throw e;
  }
  let reply: SandboxReply;
  try {
    reply = await lease.sandbox.request(message, transfer, record.limits.timeMs * calls);
  } finally {
    lease.release();
  }
  if (reply.t === "loaded") {
    throw new FunctionFailedError(
      record.name,
      record.version,
      "its sandbox process answered out of turn",
    );
  }
  if (reply.t !== "done") throw callError(record, reply);
  if (reply.json !== undefined && reply.json.length > record.limits.outputBytes) {
    throw new LimitExceededError(
      record.name,
      record.version,
      "output",
      `the result takes ${reply.json.length} bytes of JSON, over the limit of ${record.limits.outputBytes}`,
    );
  }
  return reply;
}

/** Packs a dataset result's arrays into `layout`, within the output limit. */
export function packResult(
  record: Pick<VersionRecord, "name" | "version" | "limits">,
  layout: FragmentLayout,
  arrays: Record<string, unknown> | undefined,
): Uint8Array {
  if (layout.byteLength > record.limits.outputBytes) {
    throw new LimitExceededError(
      record.name,
      record.version,
      "output",
      `the output fragment takes ${layout.byteLength} bytes, over the limit of ${record.limits.outputBytes}`,
    );
  }
  try {
    return packOutput(layout, fieldTable(layout), arrays ?? {});
  } catch (e) {
    if (e instanceof TypeError) {
      throw new FunctionFailedError(record.name, record.version, `run() returned ${e.message}`);
    }
    throw e;
  }
}
