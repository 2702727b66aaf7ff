/**
 * One line for any failure of a `strata` command: what went wrong and what to
 * do, never a stack trace.
 *
 * @module
 */

import { StrataError, UnauthorizedError } from "../errors.ts";

/** What `explain()` may name. */
export interface ExplainContext {
  /** The server URL the command talked to. */
  readonly url: string;
  /** The command. */
  readonly command?: string;
}

/**
 * The one-line message of a failure (without the `strata: ` prefix).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { explain } from "./explain.ts";
 * const refused = new TypeError("fetch failed", { cause: new Error("tcp connect error: Connection refused") });
 * assert.match(explain(refused, { url: "http://127.0.0.1:9" }), /^Cannot reach a Strata server at http:\/\/127\.0\.0\.1:9/);
 * ```
 */
export function explain(e: unknown, context: ExplainContext): string {
  if (e instanceof StrataError) {
    if (e instanceof UnauthorizedError) {
      return `${e.message}: pass the server's token with --token`;
    }
    // A description error shows its line and a caret under the column.
    return e.message;
  }
  if (e instanceof TypeError && /fetch failed|connect|error sending request/i.test(e.message)) {
    const detail = `${e.message} ${String(e.cause ?? "")}`;
    const why = /refused/i.test(detail)
      ? "connection refused"
      : /blocked/i.test(detail)
      ? "fetch refuses that port"
      : /dns|resolve|lookup/i.test(detail)
      ? "unknown host"
      : "no answer";
    return `Cannot reach a Strata server at ${context.url} (${why}): start one with 'deno task start' (or 'strata serve --port PORT'), or point --url or STRATA_URL at a running one`;
  }
  if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) {
    return `Not permitted: ${oneLine(e.message)}`;
  }
  if (e instanceof Error) return oneLine(e.message || e.name);
  return oneLine(String(e));
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, "; ");
}
