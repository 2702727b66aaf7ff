/**
 * The HTTP API. See docs/api.md.
 *
 * @module
 */

export * from "./app.ts";
export * from "./body.ts";
export * from "./errors.ts";
export * from "./auth.ts";
export * from "./fields.ts";
export * from "./in_flight.ts";
export * from "./catalog.ts";
export * from "./data_routes.ts";
export * from "./negotiate.ts";
export * from "./cluster_routes.ts";
export * from "./node_routes.ts";
export * from "./replica_routes.ts";
