/**
 * What the registry stores, and its KV keys.
 *
 * @module
 */

/** A dataset as registered. */
export interface DatasetRecord {
  /** Name. */
  readonly name: string;
  /** Description in the data language (canonical text when given as JSON). */
  readonly description: string;
  /** Committed versions kept. */
  readonly retention: number;
  /** Whether bytes are written through to the file tier. */
  readonly durable: boolean;
  /** Whether a region of a version may be published again. */
  readonly overwrite: boolean;
  /** Values of size variables. */
  readonly sizes: Readonly<Record<string, number>>;
  /** Creation time, ms since the epoch. */
  readonly createdAt: number;
}

/** States of a version. */
export type VersionState = "open" | "committed" | "retired";

/** A version as registered. */
export interface VersionRecord {
  /** Version number. */
  readonly version: number;
  /** State. */
  readonly state: VersionState;
  /** Fragment copies published into it. */
  readonly fragments: number;
  /** Bytes published into it. */
  readonly bytes: number;
  /** When it was committed, ms since the epoch. */
  readonly committedAt?: number;
}

/** A registered node. */
export interface NodeRecord {
  /** Node name. */
  readonly id: string;
  /** Where its runtime answers. */
  readonly url: string;
  /** Its tiers and their capacities. */
  readonly tiers: readonly { readonly name: string; readonly capacity: number }[];
  /** When its lease ends, ms since the epoch. */
  readonly leaseUntil: number;
}

/**
 * KV keys of the registry (see docs/registry.md).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { KEYS } from "./records.ts";
 * assert.deepEqual(KEYS.fragment("p", 3, "viz", "r0=0"), ["fragments", "p", 3, "viz", "r0=0"]);
 * ```
 */
export const KEYS = {
  dataset: (name: string): Deno.KvKey => ["datasets", name],
  version: (name: string, v: number): Deno.KvKey => ["versions", name, v],
  versions: (name: string): Deno.KvKey => ["versions", name],
  latest: (name: string): Deno.KvKey => ["latest", name],
  fragment: (name: string, v: number, fragment: string, region: string): Deno.KvKey => [
    "fragments",
    name,
    v,
    fragment,
    region,
  ],
  fragments: (name: string, v?: number): Deno.KvKey =>
    v === undefined ? ["fragments", name] : ["fragments", name, v],
  node: (id: string): Deno.KvKey => ["nodes", id],
} as const;
