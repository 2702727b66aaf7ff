/**
 * The typed client: `connect(url)` then datasets, publish, commit, attach.
 *
 * @module
 */

export * from "./client.ts";
export * from "./errors.ts";
export * from "./functions.ts";
export * from "./typed.ts";
export * from "./steps.ts";
