/**
 * Helpers of the function service's calls: the error a failed request
 * becomes, and the packing of many callers' arrays into one message.
 *
 * @module
 */

import {
  FunctionFailedError,
  InvalidRequestError,
  LimitExceededError,
  type StrataError,
} from "../errors.ts";
import { ARRAY_OF_TYPE, type FieldEntry } from "./fields.ts";
import type { CallInput, SandboxReply } from "./sandbox.ts";
import type { VersionRecord } from "./store.ts";
import { log, metrics } from "../observe/mod.ts";

/** The error a failed request becomes: a limit by name, or the function's failure. */
export function callError(
  record: Pick<VersionRecord, "name" | "version" | "limits">,
  reply: Exclude<SandboxReply, { t: "done" } | { t: "loaded" }>,
): StrataError {
  switch (reply.t) {
    case "timeout":
      killed(record, "time");
      return new LimitExceededError(
        record.name,
        record.version,
        "time",
        `ran past its limit of ${reply.ms} ms; its sandbox process was killed and is replaced${
          (reply.nice ?? 0) > 0
            ? ` (it ran at niceness ${reply.nice}, after the node's other work: on a busy node, a longer timeMs or a lower functions.nice)`
            : ""
        }`,
      );
    case "crashed":
      return new FunctionFailedError(
        record.name,
        record.version,
        `its sandbox process stopped: ${reply.message}`,
      );
    case "error":
      if (reply.error.limit !== undefined) {
        killed(record, reply.error.limit);
        return new LimitExceededError(
          record.name,
          record.version,
          reply.error.limit,
          reply.error.message,
        );
      }
      return new FunctionFailedError(
        record.name,
        record.version,
        `${reply.error.name}: ${reply.error.message}`,
      );
  }
}

/** Counts and logs a sandbox process killed for passing `limit`. */
function killed(record: Pick<VersionRecord, "name" | "version">, limit: string): void {
  metrics.functionKills.inc({ limit });
  log.warn("function process killed", { function: record.name, version: record.version, limit });
}

/** Packs many calls' arrays into one buffer, each field aligned to 8 bytes. */
export function packCalls(
  name: string,
  declared: readonly FieldEntry[],
  inputs: readonly Readonly<Record<string, ArrayBufferView>>[],
  ctx: Readonly<Record<string, unknown>>,
): { buffer: ArrayBuffer; calls: CallInput[] } {
  let total = 0;
  for (const input of inputs) {
    for (const v of Object.values(input)) total += (v.byteLength + 7) & ~7;
  }
  const bytes = new Uint8Array(total);
  const calls: CallInput[] = [];
  let at = 0;
  for (const input of inputs) {
    const base = at;
    const fields: FieldEntry[] = [];
    for (const [key, v] of Object.entries(input)) {
      const f = declared.find((d) => d.name === key || d.aliases.includes(key));
      if (f === undefined) {
        throw new InvalidRequestError(
          `Function '${name}' takes no input field '${key}': it takes ${
            declared.map((d) => d.name).join(", ")
          }`,
        );
      }
      if (v.constructor.name !== ARRAY_OF_TYPE[f.type]) {
        throw new InvalidRequestError(
          `Input field '${key}' of '${name}' must be a ${
            ARRAY_OF_TYPE[f.type]
          }, found a ${v.constructor.name}`,
        );
      }
      bytes.set(new Uint8Array(v.buffer, v.byteOffset, v.byteLength), at);
      const size = (v as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT;
      const length = v.byteLength / size;
      fields.push({ ...f, offset: at - base, length, shape: [length] });
      at += (v.byteLength + 7) & ~7;
    }
    calls.push({ fields, base, ctx });
  }
  return { buffer: bytes.buffer, calls };
}
