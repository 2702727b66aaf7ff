/**
 * HTTP calls between Strata processes and from the client: one way to build
 * a request, name a peer that does not answer, and read an error answer.
 *
 * @module
 */

export * from "./agent.ts";
export * from "./call.ts";
export * from "./msgpack_body.ts";
export * from "./before_timeout.ts";
export * from "./join_bytes.ts";
export * from "./quiet_watch.ts";
