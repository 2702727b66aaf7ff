/**
 * The `strata` command, the composition root: it reads the configuration,
 * opens the registry, tiers (with the built-in placement policies of
 * `placements/`), runtime, data plane and function service, and serves them
 * (`serveAll`, `serveNameserver`, `serveRuntime`); the other commands are
 * clients of a running server. Run it as `deno task strata` or
 * `src/cli/main.ts`.
 *
 * @module
 */

export * from "./config.ts";
export * from "./main.ts";
export * from "./processes.ts";
export * from "./usage.ts";
