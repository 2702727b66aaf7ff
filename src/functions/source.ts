/**
 * Checks of a function module's source text before anything runs it, and the
 * text the sandbox loads. Pure.
 *
 * A function imports nothing at run time: its Worker has no permissions, but
 * module loading (npm packages fetched from a registry, for one) is not
 * governed by permissions, so imports are refused here, before the module is
 * type-checked or loaded. Only type imports from `strata/function` are
 * allowed; they are erased when the module loads.
 *
 * @module
 */

import { InvalidFunctionError } from "../errors.ts";

/** The specifier function authors import their types from. */
export const TYPES_SPECIFIER = "strata/function";

/** Largest function source, in UTF-8 bytes. */
export const MAX_SOURCE_BYTES = 256 * 1024;

const EMPTY_MODULE = "data:application/javascript,export{}";

/**
 * Refuses a source that is too large, is empty, or imports anything but
 * types from `strata/function`: static imports and re-exports of any other
 * module, and every dynamic `import(...)`. The check is lexical and errs on
 * the side of refusing: `import(` in a comment or string is refused too.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkSource } from "./source.ts";
 * checkSource("h", 'import type { FunctionContext } from "strata/function";\nexport function run() {}');
 * assert.throws(() => checkSource("h", 'import pad from "npm:left-pad";'), { code: "invalid_function" });
 * assert.throws(() => checkSource("h", 'const m = await import("./x.ts");'), { code: "invalid_function" });
 * ```
 */
export function checkSource(name: string, source: string): void {
  const bad = (detail: string): never => {
    throw new InvalidFunctionError(name, "declaration", detail);
  };
  const bytes = new TextEncoder().encode(source).byteLength;
  if (bytes > MAX_SOURCE_BYTES) {
    bad(`the source takes ${bytes} bytes, over the limit of ${MAX_SOURCE_BYTES}`);
  }
  if (source.trim() === "") bad("the source is empty");
  const dynamic = /\bimport\s*\(/.exec(source);
  if (dynamic !== null) {
    bad(
      `it imports a module dynamically at line ${
        lineOf(source, dynamic.index)
      }: functions import nothing at run time`,
    );
  }
  for (const m of source.matchAll(/\b(?:from|import)\s*(["'])([^"'\n]*)\1/g)) {
    if (m[2] !== TYPES_SPECIFIER) {
      bad(
        `it imports '${m[2]}' at line ${
          lineOf(source, m.index)
        }: functions import nothing but types from '${TYPES_SPECIFIER}'`,
      );
    }
  }
}

/**
 * The text the sandbox loads: type imports from `strata/function` point at
 * an empty module, so loading resolves nothing outside the source.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { runnableSource } from "./source.ts";
 * const out = runnableSource('import type { Inputs } from "strata/function";');
 * assert.equal(out, 'import type { Inputs } from "data:application/javascript,export{}";');
 * ```
 */
export function runnableSource(source: string): string {
  return source.replace(
    /\b(from|import)(\s*)(["'])strata\/function\3/g,
    (_m, kw: string, sp: string, q: string) => `${kw}${sp}${q}${EMPTY_MODULE}${q}`,
  );
}

/**
 * The content digest of a source: `sha256:` and the hex SHA-256 of its UTF-8
 * bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { digestOf } from "./source.ts";
 * assert.equal(
 *   await digestOf(""),
 *   "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
 * );
 * ```
 */
export async function digestOf(source: string): Promise<string> {
  const hash = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(source));
  return "sha256:" + [...new Uint8Array(hash)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function lineOf(text: string, index: number): number {
  let line = 1;
  for (let i = 0; i < index; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}
