/**
 * Checks of a `fetch` frame's layouts before any byte is read or any buffer
 * allocated for them: a peer may ask only for what the copy can hold. Pure:
 * no I/O.
 *
 * @module
 */

import { InvalidRequestError, LayoutError } from "../errors.ts";
import type { FragmentLayout } from "../transform/layout.ts";
import { scalarSize } from "../transform/scalar.ts";
import { validateLayout } from "../transform/validate.ts";
import type { WireCopy } from "./codec.ts";

/**
 * Throws `InvalidRequestError` (HTTP 400, `invalid_request`) when a fetch
 * asks for more than its copy holds: a malformed layout, a copy layout whose
 * size is not the copy's, more elements of a variable than the copy holds,
 * or a payload larger than its elements' fields with their padding (at most
 * twice the packed bytes, plus 4 KiB). A legitimate `want` is a cut of the
 * copy (`cutLayout`), which never trips these checks; a wrong one is refused
 * before anything is allocated for it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkWant } from "./want.ts";
 * const rows = (count: number) => ({
 *   byteLength: count * 8,
 *   slots: [{ name: "t", variable: "t", origin: [0], axes: [{ dim: 0, step: 1, count }],
 *     fields: [{ path: "", type: "float64" as const, count: 1, offset: 0, strides: [8] }] }],
 * });
 * const copy = { dataset: "d", version: 1, fragment: "dataset", bindings: {}, layout: rows(4), byteLength: 32, checksum: 0 };
 * checkWant(copy, rows(2)); // two of its four elements: fine
 * assert.throws(() => checkWant(copy, rows(2 ** 40)), /asks for 1099511627776 elements of 't'/);
 * ```
 */
export function checkWant(copy: WireCopy, want: FragmentLayout): void {
  try {
    validateLayout(copy.layout, "the copy's layout");
    validateLayout(want, "the layout asked for");
  } catch (e) {
    if (e instanceof LayoutError) {
      throw new InvalidRequestError(`Cannot answer a fetch: ${e.message}`, { cause: e });
    }
    throw e;
  }
  if (copy.layout.byteLength !== copy.byteLength) {
    throw new InvalidRequestError(
      `Cannot answer a fetch: the copy's layout takes ${copy.layout.byteLength} bytes, the copy ${copy.byteLength}`,
    );
  }
  const held = new Map<string, number>();
  for (const s of copy.layout.slots) {
    if (s.fields.length === 0) continue;
    held.set(s.variable, (held.get(s.variable) ?? 0) + elements(s.axes));
  }
  let packed = 0;
  for (const s of want.slots) {
    const n = elements(s.axes);
    const has = held.get(s.variable) ?? 0;
    if (s.fields.length > 0 && n > has) {
      throw new InvalidRequestError(
        `Cannot answer a fetch: it asks for ${n} elements of '${s.variable}', the copy holds ${has}`,
      );
    }
    for (const f of s.fields) packed += n * scalarSize(f.type) * f.count;
  }
  if (want.byteLength > 2 * packed + 4096) {
    throw new InvalidRequestError(
      `Cannot answer a fetch: it asks for ${want.byteLength} bytes for ${packed} bytes of fields`,
    );
  }
}

function elements(axes: readonly { readonly count: number }[]): number {
  return axes.reduce((n, a) => n * a.count, 1);
}
