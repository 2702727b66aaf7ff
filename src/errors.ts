/**
 * Every error Strata's callers are expected to handle, in one place: one
 * `ErrorCode` per kind of failure, one class per code, and the data each
 * carries (`fields`) besides its message. An error that crosses a process
 * (HTTP answers, the control calls, the data plane) travels as its code,
 * message and fields, and `errorFromCode()` rebuilds the same class on the
 * other side: callers decide by class and fields, never by message text.
 *
 * @module
 */

export * from "./errors/base.ts";
export * from "./errors/description.ts";
export * from "./errors/copies.ts";
export * from "./errors/versions.ts";
export * from "./errors/requests.ts";
export * from "./errors/functions.ts";
export * from "./errors/body.ts";
