/**
 * The `strata` command.
 *
 * ```sh
 * strata serve [--config config/strata.yaml]   # the HTTP API on 127.0.0.1:7070
 * strata nameserver [--config FILE]            # registry and control API only
 * strata runtime --nameserver URL --node NAME  # tiers and data, registry elsewhere
 * strata check FILE [--bind k=v ...]            # check a description, print its layouts
 * strata plan FILE FROM TO [--bind k=v ...]      # print the copy plan between two layouts
 * strata deploy functions/histogram.ts          # deploy a transform function
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import { compileDescription, type Dataset, datasetLayout, fragmentLayout } from "../ddl/mod.ts";
import { compilePlan, formatPlan, type FragmentLayout } from "../transform/mod.ts";
import { StrataError } from "../errors.ts";
import { type Config, loadConfig } from "./config.ts";
import { formatLayout } from "./format_layout.ts";
import { runClientCommand } from "./client_commands.ts";
import { serveAll, serveNameserver, serveRuntime } from "./processes.ts";
import { runFunctionCommand } from "./function_commands.ts";

const USAGE = `Usage:
  strata serve [--config FILE]          start the service (default config/strata.yaml)
  strata nameserver [--config FILE]     start a name server (registry and control API, no data;
                                        --nameserver repeats: the shard list, itself included)
  strata runtime --nameserver URL --node NAME [--config FILE]
                                        start a runtime (tiers and data) of those name servers
                                        (--nameserver repeats, in shard order; --port, --wire-port,
                                        --data-dir override the config)
  strata check FILE [--bind NAME=VALUE]  check a description and print its layouts
  strata plan FILE FROM TO [--bind NAME=VALUE]
                                        print the copy plan from fragment FROM to TO
                                        ('dataset' names the whole dataset's layout)
  strata ls | describe DATASET | versions DATASET       [--url URL]
  strata create DATASET FILE [--durable] [--retention K]
  strata publish DATASET VERSION FRAGMENT FILE|- [--bind NAME=VALUE] [--token T]
  strata commit DATASET VERSION
  strata attach DATASET FRAGMENT [--version N|latest] [--wait MS] [--bind NAME=VALUE] > FILE
  strata flush DATASET VERSION [--tier TIER]   write a version to the backing tier
  strata nodes                                 tiers, usage and fragment counts of each node
  strata deploy FILE [--name NAME] [--alias ALIAS]   deploy a function (name: the file's)
  strata functions [NAME]                list functions, or describe one
  strata alias NAME ALIAS VERSION        point an alias at a version (rollback)
  strata invoke NAME DATASET [--version N] [--bind K=V] [--each] [--args JSON] [--use ALIAS]
  strata pipeline NAME [--source D --function F [--use A] [--output D2]
                  [--placement in-situ|in-transit|auto] [--args JSON]]
                                        create a pipeline, or show its runs
  strata help

Client commands talk to --url (default http://127.0.0.1:7070).`;

/** Runs the command line; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      config: { type: "string" },
      bind: { type: "string", multiple: true },
      url: { type: "string", default: "http://127.0.0.1:7070" },
      token: { type: "string" },
      version: { type: "string" },
      wait: { type: "string" },
      durable: { type: "boolean" },
      retention: { type: "string" },
      nameserver: { type: "string", multiple: true },
      node: { type: "string" },
      port: { type: "string" },
      "wire-port": { type: "string" },
      "data-dir": { type: "string" },
      tier: { type: "string" },
      name: { type: "string" },
      alias: { type: "string", multiple: true },
      use: { type: "string" },
      each: { type: "boolean" },
      args: { type: "string" },
      source: { type: "string" },
      function: { type: "string" },
      output: { type: "string" },
      placement: { type: "string" },
    },
  });
  const [command, ...rest] = positionals;
  try {
    switch (command) {
      case "serve":
        return await serveAll(withFlags(await loadConfig(values.config), values));
      case "nameserver":
        return await serveNameserver(withFlags(await loadConfig(values.config), values));
      case "runtime":
        return await serveRuntime(withFlags(await loadConfig(values.config), values));
      case "check":
        return await check(rest[0], values.bind ?? []);
      case "plan":
        return await plan(rest, values.bind ?? []);
      case undefined:
      case "help":
        console.log(USAGE);
        return 0;
      default: {
        const fn = await runFunctionCommand(command, rest, {
          ...values,
          bindings: parseBinds(values.bind ?? []),
        });
        if (fn !== undefined) return fn;
        const code = await runClientCommand(command, rest, {
          url: values.url,
          token: values.token,
          bindings: parseBinds(values.bind ?? []),
          version: values.version,
          wait: values.wait,
          durable: values.durable,
          retention: values.retention,
          tier: values.tier,
        });
        if (code !== undefined) return code;
        console.error(`Unknown command '${command}'\n${USAGE}`);
        return 2;
      }
    }
  } catch (e) {
    if (e instanceof StrataError) {
      console.error(`strata: ${e.message}`);
      return 1;
    }
    if (e instanceof TypeError && /connect|connection/i.test(e.message)) {
      console.error(`strata: Cannot reach ${values.url}: ${e.message}`);
      return 1;
    }
    throw e;
  }
}

/** The config with the process flags applied over it. */
function withFlags(config: Config, v: {
  nameserver?: string[] | undefined;
  node?: string | undefined;
  port?: string | undefined;
  "wire-port"?: string | undefined;
  "data-dir"?: string | undefined;
}): Config {
  const port = (flag: string, text: string) => {
    const n = Number(text);
    if (!/^[0-9]+$/.test(text) || n > 65535) {
      throw new StrataError("invalid_request", `Invalid ${flag} '${text}': expected 0 to 65535`);
    }
    return n;
  };
  const nameservers = v.nameserver?.flatMap((u) => u.split(",")).filter((u) => u !== "");
  return {
    ...config,
    ...(nameservers === undefined ? {} : { nameservers }),
    ...(v.node === undefined ? {} : { node: v.node }),
    ...(v["data-dir"] === undefined ? {} : { dataDir: v["data-dir"] }),
    ...(v.port === undefined ? {} : { listen: { ...config.listen, port: port("--port", v.port) } }),
    ...(v["wire-port"] === undefined
      ? {}
      : { wire: { ...config.wire, port: port("--wire-port", v["wire-port"]) } }),
  };
}

function parseBinds(binds: string[]): Record<string, number> {
  const bindings: Record<string, number> = {};
  for (const b of binds) {
    const [k, v] = b.split("=");
    const n = Number(v);
    if (k === undefined || v === undefined || v === "" || !Number.isSafeInteger(n)) {
      throw new StrataError("invalid_request", `Invalid --bind '${b}': expected NAME=INTEGER`);
    }
    bindings[k] = n;
  }
  return bindings;
}

function sizesOf(ds: Dataset, bindings: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of ds.variables.values()) {
    for (const d of v.dims) {
      if (typeof d !== "number" && bindings[d.sizeVar] !== undefined) {
        out[d.sizeVar] = bindings[d.sizeVar]!;
      }
    }
  }
  return out;
}

function layoutOf(ds: Dataset, name: string, bindings: Record<string, number>): FragmentLayout {
  const own = sizesOf(ds, bindings);
  if (name === "dataset") return datasetLayout(ds, own);
  for (const p of ds.fragments.get(name)?.decl.params ?? []) {
    if (bindings[p] !== undefined) own[p] = bindings[p];
  }
  return fragmentLayout(ds, name, own);
}

async function plan(args: string[], binds: string[]): Promise<number> {
  const [file, from, to] = args;
  if (file === undefined || from === undefined || to === undefined) {
    throw new StrataError("invalid_request", "Missing arguments: strata plan FILE FROM TO");
  }
  const bindings = parseBinds(binds);
  const ds = compileDescription(await Deno.readTextFile(file));
  console.log(formatPlan(compilePlan([layoutOf(ds, from, bindings)], layoutOf(ds, to, bindings))));
  return 0;
}

async function check(file: string | undefined, binds: string[]): Promise<number> {
  if (file === undefined) {
    throw new StrataError("invalid_request", "Missing FILE: strata check FILE");
  }
  const bindings = parseBinds(binds);
  const ds = compileDescription(await Deno.readTextFile(file));
  const title = `dataset ${ds.description.name ?? ""}`.trim();
  console.log(formatLayout(title, layoutOf(ds, "dataset", bindings)));
  for (const [name, f] of ds.fragments) {
    if (f.decl.params.some((p) => bindings[p] === undefined)) {
      console.log(
        `${f.decl.keyword} ${name}(${f.decl.params.join(", ")}): bind its parameters to lay it out`,
      );
      continue;
    }
    console.log(formatLayout(`${f.decl.keyword} ${name}`, layoutOf(ds, name, bindings)));
  }
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
