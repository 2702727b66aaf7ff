/**
 * Errors of the data language and its layouts: a description that does not
 * compile, a layout that cannot be made, a region no copy covers.
 *
 * @module
 */

import { StrataError, type StrataErrorOptions } from "./base.ts";

/** Where in a description an error was found. */
export interface SourcePosition {
  /** 1-based line. */
  readonly line: number;
  /** 1-based column. */
  readonly col: number;
}

/**
 * A description in the data language that does not parse or does not check.
 * The message reads `line:col: what was wrong`, followed by the offending
 * line and a caret under the column.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DescriptionError } from "../errors.ts";
 * const e = new DescriptionError("Unknown type 'flaot64'", { line: 2, col: 9 }, "  var x flaot64");
 * assert.ok(e.message.startsWith("2:9: Unknown type 'flaot64'"));
 * assert.deepEqual(e.fields, { detail: "Unknown type 'flaot64'", line: 2, col: 9, source: "  var x flaot64" });
 * ```
 */
export class DescriptionError extends StrataError {
  /** Position of the error in the description. */
  readonly position: SourcePosition;
  /** The message without position and snippet. */
  readonly detail: string;

  /** Creates the error from a detail message, a position and the source line. */
  constructor(
    detail: string,
    position: SourcePosition,
    sourceLine: string,
    options: StrataErrorOptions = {},
  ) {
    const caret = " ".repeat(Math.max(0, position.col - 1)) + "^";
    super(
      "invalid_description",
      `${position.line}:${position.col}: ${detail}\n${sourceLine}\n${caret}`,
      {
        ...options,
        fields: { detail, line: position.line, col: position.col, source: sourceLine },
      },
    );
    this.position = position;
    this.detail = detail;
  }
}

/**
 * A fragment or attach request that is well formed but cannot be satisfied as
 * asked: an unknown fragment, an unbound or out-of-range parameter, a layout
 * that does not hold a requested field.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LayoutError } from "../errors.ts";
 * const e = new LayoutError("Parameter 'r0' of fragment 'block' is not bound");
 * assert.ok(e.code === "invalid_layout");
 * ```
 */
export class LayoutError extends StrataError {
  /** Creates the error. */
  constructor(message: string, options?: StrataErrorOptions) {
    super("invalid_layout", message, options);
  }
}

/** A box of variable indices: `start[d] <= i[d] < start[d] + count[d]`. */
export interface IndexBox {
  /** First index per dimension. */
  readonly start: readonly number[];
  /** Number of indices per dimension. */
  readonly count: readonly number[];
}

/**
 * The sources given to a transform do not cover the requested target: the
 * missing sub-regions are named, and nothing is returned.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MissingRegionError } from "../errors.ts";
 * const e = new MissingRegionError("temp", "", [{ start: [4], count: [4] }]);
 * assert.ok(e.message.includes("[4:8]"));
 * assert.deepEqual(e.missing, [{ start: [4], count: [4] }]);
 * ```
 */
export class MissingRegionError extends StrataError {
  /** Dataset variable with missing data. */
  readonly variable: string;
  /** Leaf field path with missing data ("" for a scalar element). */
  readonly field: string;
  /** Missing boxes, in variable index space. */
  readonly missing: readonly IndexBox[];

  /** Creates the error naming the missing boxes. */
  constructor(
    variable: string,
    field: string,
    missing: readonly IndexBox[],
    options: StrataErrorOptions = {},
  ) {
    const name = field === "" ? variable : `${variable}.${field}`;
    const boxes = missing.map(formatBox).join(", ");
    super("missing_region", `Sources do not cover '${name}': missing ${boxes}`, {
      ...options,
      fields: {
        variable,
        field,
        missing: missing.map((b) => ({ start: [...b.start], count: [...b.count] })),
      },
    });
    this.variable = variable;
    this.field = field;
    this.missing = missing;
  }
}

/**
 * Formats a box as `[a:b, c:d]` with exclusive ends.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatBox } from "../errors.ts";
 * assert.ok(formatBox({ start: [0, 2], count: [4, 2] }) === "[0:4, 2:4]");
 * ```
 */
export function formatBox(box: IndexBox): string {
  return `[${box.start.map((s, d) => `${s}:${s + (box.count[d] ?? 0)}`).join(", ")}]`;
}
