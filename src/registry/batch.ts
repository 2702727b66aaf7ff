/**
 * The operations of a registry batch (the API's batch route), checked into
 * typed requests and run in order against a registry. Pure: no KV.
 *
 * @module
 */

import { type ErrorBody, errorBody, InvalidRequestError } from "../errors.ts";
import type {
  AttachQuery,
  CommitResult,
  CreateDatasetInput,
  DatasetSummary,
  FragmentRecord,
  LookupRecords,
  PublishResult,
} from "./records.ts";

/** One checked batch operation. */
export type BatchOp =
  | { readonly op: "create"; readonly input: CreateDatasetInput }
  | { readonly op: "publish"; readonly record: FragmentRecord }
  | { readonly op: "commit"; readonly dataset: string; readonly version: number }
  | { readonly op: "lookup"; readonly query: AttachQuery };

/** The outcome of one batch operation: its result or its error. */
export type BatchResult =
  | { readonly ok: unknown }
  | { readonly error: ErrorBody };

/**
 * Checks one batch operation: `{op: "create", name, description,
 * retention?, durable?, overwrite?, sizes?}`, `{op: "publish", dataset, version, fragment,
 * bindings?, node, tier, byteLength, checksum?}`, `{op: "commit", dataset,
 * version}` or `{op: "lookup", dataset, version (number or "latest"),
 * fragment, bindings?}`. Throws `InvalidRequestError` naming the field.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseBatchOp } from "./batch.ts";
 * const op = parseBatchOp({ op: "commit", dataset: "grid", version: 2 });
 * assert.deepEqual(op, { op: "commit", dataset: "grid", version: 2 });
 * assert.throws(() => parseBatchOp({ op: "commit", dataset: "grid" }), {
 *   message: "Invalid batch operation 'commit': expected 'version' to be a number, found undefined",
 * });
 * ```
 */
export function parseBatchOp(op: unknown): BatchOp {
  if (typeof op !== "object" || op === null || Array.isArray(op)) {
    throw new InvalidRequestError("Invalid batch operation: expected an object");
  }
  const o = op as Record<string, unknown>;
  const name = o.op;
  const str = (k: string) => field(name, o, k, "string") as string;
  const num = (k: string) => field(name, o, k, "number") as number;
  switch (name) {
    case "create": {
      const input: Record<string, unknown> = { name: str("name"), description: str("description") };
      for (
        const [k, type] of [["retention", "number"], ["durable", "boolean"], [
          "overwrite",
          "boolean",
        ]] as const
      ) {
        if (o[k] === undefined) continue;
        const actual: string = typeof o[k];
        if (actual !== type) {
          throw new InvalidRequestError(
            `Invalid batch operation 'create': expected '${k}' to be a ${type}, found ${typeof o[
              k
            ]}`,
          );
        }
        input[k] = o[k];
      }
      if (o.sizes !== undefined) input.sizes = bindingsOf(name, o.sizes);
      return { op: "create", input: input as unknown as CreateDatasetInput };
    }
    case "publish":
      return {
        op: "publish",
        record: {
          dataset: str("dataset"),
          version: num("version"),
          fragment: str("fragment"),
          bindings: bindingsOf(name, o.bindings),
          node: str("node"),
          tier: str("tier"),
          byteLength: num("byteLength"),
          checksum: o.checksum === undefined ? 0 : num("checksum"),
        },
      };
    case "commit":
      return { op: "commit", dataset: str("dataset"), version: num("version") };
    case "lookup":
      return {
        op: "lookup",
        query: {
          dataset: str("dataset"),
          version: o.version === "latest" ? "latest" : num("version"),
          fragment: str("fragment"),
          bindings: bindingsOf(name, o.bindings),
        },
      };
    default:
      throw new InvalidRequestError(
        `Unknown batch operation '${String(name)}': expected create, publish, commit or lookup`,
      );
  }
}

/**
 * The batch outcome of an error: its code and message (`internal` for an
 * error that is not Strata's).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { NotFoundError } from "../errors.ts";
 * import { batchError } from "./batch.ts";
 * assert.deepEqual(batchError(new NotFoundError("Unknown dataset 'x'")), {
 *   error: { code: "not_found", message: "Unknown dataset 'x'" },
 * });
 * ```
 */
export function batchError(e: unknown): BatchResult {
  return { error: errorBody(e) };
}

/** What a batch runs its operations on (a `Registry`). */
export interface BatchTarget {
  /** Runs a `create`. */
  createDataset(input: CreateDatasetInput): Promise<DatasetSummary>;
  /** Runs a `publish`. */
  publishFragment(record: FragmentRecord): Promise<PublishResult>;
  /** Runs a `commit`. */
  commitVersion(dataset: string, version: number): Promise<CommitResult>;
  /** Runs a `lookup`: the copies of a committed version, found in memory (no waiting). */
  lookupRecords(query: AttachQuery): LookupRecords;
}

/**
 * Runs many operations on `target` in order, each with its own result or
 * error. A run of consecutive creates, or of consecutive publishes, runs
 * concurrently, so their writes share atomic commits. A create answers the
 * dataset's summary; a publish, `{committed}`; a commit, its
 * `CommitResult`; a lookup, the version, byte length and sources without
 * their layouts.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type BatchTarget, runBatch } from "./batch.ts";
 * const target = {
 *   commitVersion: (dataset: string, version: number) => Promise.resolve({ version, retired: [] }),
 * } as unknown as BatchTarget;
 * assert.deepEqual(await runBatch([{ op: "commit", dataset: "t", version: 1 }, { op: "drop" }], target), [
 *   { ok: { version: 1, retired: [] } },
 *   { error: { code: "invalid_request", message: "Unknown batch operation 'drop': expected create, publish, commit or lookup" } },
 * ]);
 * ```
 */
export async function runBatch(
  ops: readonly unknown[],
  target: BatchTarget,
): Promise<BatchResult[]> {
  const out: BatchResult[] = [];
  for (let i = 0; i < ops.length;) {
    if (isLookup(ops[i])) {
      // Lookups read memory only: answered in place, no promise each.
      try {
        const op = parseBatchOp(ops[i]) as Extract<BatchOp, { op: "lookup" }>;
        out.push({ ok: target.lookupRecords(op.query) });
      } catch (e) {
        out.push(batchError(e));
      }
      i++;
      continue;
    }
    let j = i + 1;
    const kind = concurrentKind(ops[i]);
    if (kind !== undefined) { while (j < ops.length && concurrentKind(ops[j]) === kind) j++; }
    const settled = await Promise.allSettled(ops.slice(i, j).map((op) => runOne(op, target)));
    for (const s of settled) {
      out.push(s.status === "fulfilled" ? { ok: s.value } : batchError(s.reason));
    }
    i = j;
  }
  return out;
}

async function runOne(raw: unknown, target: BatchTarget): Promise<unknown> {
  const op: BatchOp = parseBatchOp(raw);
  switch (op.op) {
    case "create":
      return await target.createDataset(op.input);
    case "publish": {
      // The batch contract answers a publish with `committed` only.
      const { committed } = await target.publishFragment(op.record);
      return { committed };
    }
    case "commit":
      return await target.commitVersion(op.dataset, op.version);
    case "lookup":
      return target.lookupRecords(op.query);
  }
}

function isLookup(op: unknown): boolean {
  return typeof op === "object" && op !== null && (op as { op?: unknown }).op === "lookup";
}

/** Consecutive creates, or consecutive publishes, run concurrently (their writes share commits). */
function concurrentKind(op: unknown): "create" | "publish" | undefined {
  const kind = typeof op === "object" && op !== null ? (op as { op?: unknown }).op : undefined;
  return kind === "create" || kind === "publish" ? kind : undefined;
}

function field(
  op: unknown,
  o: Record<string, unknown>,
  k: string,
  type: "string" | "number",
): unknown {
  const v = o[k];
  const actual: string = typeof v;
  if (actual !== type) {
    throw new InvalidRequestError(
      `Invalid batch operation '${String(op)}': expected '${k}' to be a ${type}, found ${
        v === null ? "null" : typeof v
      }`,
    );
  }
  return v;
}

function bindingsOf(op: unknown, b: unknown): Record<string, number> {
  if (b === undefined) return {};
  if (typeof b === "object" && b !== null && !Array.isArray(b)) {
    const out: Record<string, number> = {};
    for (const [k, v] of Object.entries(b)) {
      if (typeof v !== "number") {
        throw new InvalidRequestError(
          `Invalid batch operation '${String(op)}': expected binding '${k}' to be a number`,
        );
      }
      out[k] = v;
    }
    return out;
  }
  throw new InvalidRequestError(
    `Invalid batch operation '${String(op)}': expected 'bindings' to be an object`,
  );
}
