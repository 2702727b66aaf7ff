/**
 * Errors of stored copies: a node with no room for one, bytes that do not
 * match their checksum, a copy that is gone.
 *
 * @module
 */

import { StrataError, type StrataErrorOptions } from "./base.ts";

/** A tier's usage, as `NodeFullError` reports it. */
export interface TierUsageNote {
  /** Tier name. */
  readonly name: string;
  /** Capacity in bytes. */
  readonly capacity: number;
  /** Bytes held. */
  readonly used: number;
}

/**
 * No tier of a node can take a fragment copy, even after spilling its
 * least recently used copies (HTTP 507, `insufficient_storage`): the message
 * names the copy and what each tier holds. Nothing was stored.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { NodeFullError } from "../errors.ts";
 * const e = new NodeFullError("n1", {
 *   what: "fragment 'viz' of version 3 of 'particles'",
 *   byteLength: 4096,
 *   tiers: [{ name: "memory", capacity: 1024, used: 1000 }],
 * });
 * assert.equal(e.code, "insufficient_storage");
 * assert.equal(e.message, "Node 'n1' has no room for 4096 bytes of fragment 'viz' of version 3 of 'particles': tier 'memory' holds 1000 of 1024 bytes");
 * ```
 */
export class NodeFullError extends StrataError {
  /** The node. */
  readonly node: string;
  /** Usage of the tiers considered. */
  readonly tiers: readonly TierUsageNote[];

  /** Creates the error naming the node, the copy, its size, why, and each tier's usage. */
  constructor(
    node: string,
    copy: {
      readonly what: string;
      readonly byteLength: number;
      readonly tiers: readonly TierUsageNote[];
      readonly detail?: string | undefined;
    },
    options: StrataErrorOptions = {},
  ) {
    const usage = copy.tiers.map((t) => `tier '${t.name}' holds ${t.used} of ${t.capacity} bytes`);
    super(
      "insufficient_storage",
      `Node '${node}' has no room for ${copy.byteLength} bytes of ${copy.what}: ${
        [...(copy.detail === undefined ? [] : [copy.detail]), ...usage].join(", ")
      }`,
      {
        ...options,
        fields: {
          node,
          what: copy.what,
          byteLength: copy.byteLength,
          tiers: copy.tiers.map((t) => ({ name: t.name, capacity: t.capacity, used: t.used })),
          ...(copy.detail === undefined ? {} : { detail: copy.detail }),
        },
      },
    );
    this.node = node;
    this.tiers = copy.tiers;
  }
}

/**
 * One tier has no room for a fragment copy: the message names the tier, its
 * capacity, what it holds and what was asked. A node's tier set spills or
 * tries the next tier; what leaves a node is a `NodeFullError`, so this one
 * is a narrower kind of it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { NodeFullError, TierFullError } from "../errors.ts";
 * const e = new TierFullError("memory", { capacity: 100, used: 90, requested: 20 });
 * assert.equal(e.message, "Tier 'memory' is full: capacity 100 bytes, 90 used, 20 requested");
 * assert.ok(e instanceof NodeFullError);
 * ```
 */
export class TierFullError extends NodeFullError {
  /** The tier that is full. */
  readonly tier: string;

  /** Creates the error. */
  constructor(
    tier: string,
    usage: { readonly capacity: number; readonly used: number; readonly requested: number },
    options: StrataErrorOptions = {},
  ) {
    super("", {
      what: `a copy on tier '${tier}'`,
      byteLength: usage.requested,
      tiers: [{ name: tier, capacity: usage.capacity, used: usage.used }],
    }, {
      message:
        `Tier '${tier}' is full: capacity ${usage.capacity} bytes, ${usage.used} used, ${usage.requested} requested`,
      ...options,
    });
    this.tier = tier;
  }
}

/**
 * Stored or transferred bytes that do not match their checksum: they are
 * never served. A server-side fault, never the request's: no client sends a
 * checksum, so the HTTP API keeps it a 500; an attach turns it into a lost
 * copy (`gone`) once no other node has one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ChecksumError } from "../errors.ts";
 * const e = new ChecksumError("particles/3/viz", 1, 2);
 * assert.equal(e.code, "checksum_mismatch");
 * assert.deepEqual(e.fields, { key: "particles/3/viz", expected: 1, found: 2 });
 * ```
 */
export class ChecksumError extends StrataError {
  /** The copy whose bytes do not match. */
  readonly key: string;
  /** The checksum recorded. */
  readonly expected: number;
  /** The checksum of the bytes found. */
  readonly found: number;

  /** Creates the error naming the copy and both checksums. */
  constructor(key: string, expected: number, found: number, options: StrataErrorOptions = {}) {
    super(
      "checksum_mismatch",
      `Checksum mismatch for '${key}': expected ${expected.toString(16)}, found ${
        found.toString(16)
      }`,
      { ...options, fields: { key, expected, found } },
    );
    this.key = key;
    this.expected = expected;
    this.found = found;
  }
}

/** Options of a `LostError`. */
export interface LostErrorOptions extends StrataErrorOptions {
  /** The node whose copy is gone, when one node is meant. */
  readonly node?: string;
}

/**
 * The bytes of a committed fragment are gone (HTTP 410, `gone`): they were
 * held only in memory by a runtime that restarted or died, or the copy on a
 * node no longer matches its record. Never served as zeros.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LostError } from "../errors.ts";
 * const e = new LostError("particles", 3, "viz");
 * assert.equal(e.message, "Version 3 of 'particles' is lost: fragment 'viz' was held only in memory and is gone");
 * assert.equal(e.detail, "was held only in memory and is gone");
 * ```
 */
export class LostError extends StrataError {
  /** Dataset name. */
  readonly dataset: string;
  /** Version number. */
  readonly version: number;
  /** Fragment whose bytes are gone (several, joined by `', '`, when an attach lost several). */
  readonly fragment: string;
  /** What happened to the bytes, as the message says it after the fragment. */
  readonly detail: string;
  /** The node whose copy is gone, when one node is meant. */
  readonly node: string | undefined;

  /** Creates the error naming the dataset, version and fragment. */
  constructor(
    dataset: string,
    version: number,
    fragment: string,
    detail = "was held only in memory and is gone",
    options: LostErrorOptions = {},
  ) {
    const { node, ...rest } = options;
    super(
      "gone",
      `Version ${version} of '${dataset}' is lost: fragment '${fragment}' ${detail}`,
      {
        ...rest,
        fields: { dataset, version, fragment, detail, ...(node === undefined ? {} : { node }) },
      },
    );
    this.dataset = dataset;
    this.version = version;
    this.fragment = fragment;
    this.detail = detail;
    this.node = node;
  }
}
