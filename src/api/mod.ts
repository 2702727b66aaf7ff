/**
 * The HTTP API. See docs/api.md.
 *
 * @module
 */

export * from "./app.ts";
export * from "./body.ts";
export * from "./errors.ts";
