/**
 * The `strata` command.
 *
 * ```sh
 * strata serve [--config config/strata.yaml]   # the HTTP API on 127.0.0.1:7070
 * strata check FILE [--bind k=v ...]            # check a description, print its layouts
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import { createApp } from "../api/app.ts";
import { compileDescription, datasetLayout, fragmentLayout } from "../ddl/mod.ts";
import { StrataError } from "../errors.ts";
import { type Config, DEFAULT_CONFIG, parseConfig } from "./config.ts";
import { formatLayout } from "./format_layout.ts";

const USAGE = `Usage:
  strata serve [--config FILE]          start the service (default config/strata.yaml)
  strata check FILE [--bind NAME=VALUE]  check a description and print its layouts
  strata help`;

/** Runs the command line; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      config: { type: "string" },
      bind: { type: "string", multiple: true },
    },
  });
  const [command, ...rest] = positionals;
  try {
    switch (command) {
      case "serve":
        return await serve(await loadConfig(values.config));
      case "check":
        return await check(rest[0], values.bind ?? []);
      case undefined:
      case "help":
        console.log(USAGE);
        return 0;
      default:
        console.error(`Unknown command '${command}'\n${USAGE}`);
        return 2;
    }
  } catch (e) {
    if (e instanceof StrataError) {
      console.error(`strata: ${e.message}`);
      return 1;
    }
    throw e;
  }
}

async function loadConfig(path: string | undefined): Promise<Config> {
  const file = path ?? "config/strata.yaml";
  try {
    return parseConfig(await Deno.readTextFile(file));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound && path === undefined) return DEFAULT_CONFIG;
    if (e instanceof Deno.errors.NotFound) {
      throw new StrataError("invalid_config", `No config file: ${file}`);
    }
    throw e;
  }
}

async function serve(config: Config): Promise<number> {
  const app = createApp({ maxBodyBytes: config.limits.maxBodyBytes });
  const ac = new AbortController();
  const stop = () => ac.abort();
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  const server = Deno.serve({
    hostname: config.listen.hostname,
    port: config.listen.port,
    signal: ac.signal,
    onListen: ({ hostname, port }) => console.log(`Strata listening on http://${hostname}:${port}`),
  }, app.fetch);
  await server.finished;
  return 0;
}

async function check(file: string | undefined, binds: string[]): Promise<number> {
  if (file === undefined) {
    throw new StrataError("invalid_request", "Missing FILE: strata check FILE");
  }
  const bindings: Record<string, number> = {};
  for (const b of binds) {
    const [k, v] = b.split("=");
    const n = Number(v);
    if (k === undefined || v === undefined || !Number.isSafeInteger(n)) {
      throw new StrataError("invalid_request", `Invalid --bind '${b}': expected NAME=INTEGER`);
    }
    bindings[k] = n;
  }
  const ds = compileDescription(await Deno.readTextFile(file));
  const sizes = Object.fromEntries(
    Object.entries(bindings).filter(([k]) =>
      [...ds.variables.values()].some((v) =>
        v.dims.some((d) => typeof d !== "number" && d.sizeVar === k)
      )
    ),
  );
  console.log(
    formatLayout(`dataset ${ds.description.name ?? ""}`.trim(), datasetLayout(ds, sizes)),
  );
  for (const [name, f] of ds.fragments) {
    const own = { ...sizes };
    for (const p of f.decl.params) if (bindings[p] !== undefined) own[p] = bindings[p];
    if (f.decl.params.some((p) => own[p] === undefined)) {
      console.log(
        `${f.decl.keyword} ${name}(${f.decl.params.join(", ")}): bind its parameters to lay it out`,
      );
      continue;
    }
    console.log(formatLayout(`${f.decl.keyword} ${name}`, fragmentLayout(ds, name, own)));
  }
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
