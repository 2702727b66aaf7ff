/**
 * The data plane: fragment transfer between runtimes over raw TCP, framed
 * with Cap'n Proto (schema/wire.capnp). See docs/wire.md.
 *
 * @module
 */

export * from "./codec.ts";
export * from "./stream.ts";
export * from "./server.ts";
export * from "./client.ts";
export * from "./cut.ts";
