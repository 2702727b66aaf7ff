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
import { InvalidRequestError } from "../errors.ts";
import { log, LOG_LEVELS } from "../observe/mod.ts";
import { type Config, loadConfig } from "./config.ts";
import { formatLayout } from "./format_layout.ts";
import { runClientCommand } from "./client_commands.ts";
import { serveAll, serveNameserver, serveRuntime } from "./processes.ts";
import { runFunctionCommand } from "./function_commands.ts";
import { explain } from "./explain.ts";
import { readInputText } from "./read_input.ts";
import { COMMANDS, DEFAULT_URL, usage } from "./usage.ts";

const OPTIONS = {
  help: { type: "boolean", short: "h" },
  config: { type: "string" },
  bind: { type: "string", multiple: true },
  url: { type: "string" },
  token: { type: "string" },
  timeout: { type: "string" },
  version: { type: "string" },
  wait: { type: "string" },
  from: { type: "string" },
  ahead: { type: "string" },
  durable: { type: "boolean" },
  retention: { type: "string" },
  force: { type: "boolean" },
  nameserver: { type: "string", multiple: true },
  node: { type: "string" },
  port: { type: "string" },
  "wire-port": { type: "string" },
  "data-dir": { type: "string" },
  "log-level": { type: "string" },
  "log-format": { type: "string" },
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
} as const;

/**
 * Runs the command line; returns the exit code. Every failure is one line on
 * standard error, `strata: <what went wrong and what to do>`, never a stack
 * trace.
 *
 * @example
 * ```ts ignore
 * import { main } from "./main.ts";
 * Deno.exit(await main(["ls", "--url", "http://127.0.0.1:7070"]));
 * ```
 */
export async function main(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args, allowPositionals: true, strict: true, options: OPTIONS });
  } catch (e) {
    return badOption(args, (e as Error).message);
  }
  const { positionals, values } = parsed;
  const [command, ...rest] = positionals;
  if (command === undefined || command === "help") {
    const about = command === "help" ? rest[0] : undefined;
    if (about !== undefined && COMMANDS[about] === undefined) {
      console.error(`strata: Unknown command '${about}': 'strata --help' lists the commands`);
      return 2;
    }
    console.log(usage(about));
    return 0;
  }
  const spec = COMMANDS[command];
  if (spec === undefined) {
    console.error(`strata: Unknown command '${command}': 'strata --help' lists the commands`);
    return 2;
  }
  if (values.help === true) {
    console.log(usage(command));
    return 0;
  }
  const allowed = new Set([...spec.options, ...(spec.client ? ["url", "token", "timeout"] : [])]);
  const stray = Object.keys(values).find((k) => !allowed.has(k) && k !== "help");
  if (stray !== undefined) {
    console.error(
      `strata: Unknown option '--${stray}' for '${command}': usage: strata ${spec.usage}`,
    );
    return 2;
  }
  const url = values.url ?? envUrl() ?? DEFAULT_URL;
  try {
    switch (command) {
      case "serve":
        return await serveAll(await serverConfig(values));
      case "nameserver":
        return await serveNameserver(await serverConfig(values));
      case "runtime":
        return await serveRuntime(await serverConfig(values));
      case "check":
        return await check(rest[0], values.bind ?? []);
      case "plan":
        return await plan(rest, values.bind ?? []);
      default: {
        const bindings = parseBinds(values.bind ?? []);
        const timeoutMs = parseTimeout(values.timeout);
        const fn = await runFunctionCommand(command, rest, { ...values, url, bindings, timeoutMs });
        if (fn !== undefined) return fn;
        const code = await runClientCommand(command, rest, {
          url,
          token: values.token,
          timeoutMs,
          bindings,
          version: values.version,
          wait: values.wait,
          from: values.from,
          ahead: values.ahead,
          durable: values.durable,
          retention: values.retention,
          tier: values.tier,
          force: values.force,
        });
        return code ?? 2;
      }
    }
  } catch (e) {
    console.error(`strata: ${explain(e, { url, command })}`);
    return 1;
  }
}

/**
 * `--timeout SECONDS` in ms: how long a client command waits for each
 * answer beyond the wait it asks for (undefined: the client's default).
 */
function parseTimeout(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const seconds = Number(text);
  if (!/^[0-9]+(\.[0-9]+)?$/.test(text) || !(seconds > 0) || seconds > 86_400) {
    throw new InvalidRequestError(
      `Invalid --timeout '${text}': expected seconds, more than 0 and at most 86400`,
    );
  }
  return Math.max(1, Math.round(seconds * 1000));
}

/** The message of an option parseArgs refused, naming it, with the command's usage. */
function badOption(args: string[], message: string): number {
  const command = args.find((a) => COMMANDS[a] !== undefined);
  const option = /'([^']+)'/.exec(message)?.[1];
  const what = option === undefined ? message : `Unknown option '${option}'`;
  const spec = command === undefined ? undefined : COMMANDS[command];
  if (/argument missing/.test(message)) {
    console.error(
      `strata: Option '${option}' needs a value${
        spec === undefined ? "" : `: usage: strata ${spec.usage}`
      }`,
    );
    return 2;
  }
  console.error(
    `strata: ${what}${
      spec === undefined
        ? ": 'strata --help' lists the commands and options"
        : ` for '${command}': usage: strata ${spec.usage}`
    }`,
  );
  return 2;
}

/** `STRATA_URL`, when it is set and the process may read it. */
function envUrl(): string | undefined {
  const env = Deno.permissions.querySync?.({ name: "env", variable: "STRATA_URL" });
  if (env?.state !== "granted") return undefined;
  const v = Deno.env.get("STRATA_URL");
  return v === undefined || v === "" ? undefined : v;
}

/** A long-running command's config, flags applied; its log is configured from it. */
async function serverConfig(
  values: Parameters<typeof withFlags>[1] & { config?: string | undefined },
): Promise<Config> {
  const config = withFlags(await loadConfig(values.config), values);
  log.configure(config.log);
  return config;
}

/** The config with the process flags applied over it. */
function withFlags(config: Config, v: {
  nameserver?: string[] | undefined;
  node?: string | undefined;
  port?: string | undefined;
  "wire-port"?: string | undefined;
  "data-dir"?: string | undefined;
  "log-level"?: string | undefined;
  "log-format"?: string | undefined;
}): Config {
  const port = (flag: string, text: string) => {
    const n = Number(text);
    if (!/^[0-9]+$/.test(text) || n > 65535) {
      throw new InvalidRequestError(`Invalid ${flag} '${text}': expected 0 to 65535`);
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
    log: logFlags(config.log, v["log-level"], v["log-format"]),
  };
}

/** The log settings with `--log-level` and `--log-format` over them. */
function logFlags(
  current: Config["log"],
  level: string | undefined,
  format: string | undefined,
): Config["log"] {
  if (level !== undefined && !(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new InvalidRequestError(
      `Invalid --log-level '${level}': expected one of ${LOG_LEVELS.join(", ")}`,
    );
  }
  if (format !== undefined && format !== "text" && format !== "json") {
    throw new InvalidRequestError(`Invalid --log-format '${format}': expected text or json`);
  }
  return {
    level: (level ?? current.level) as Config["log"]["level"],
    format: (format ?? current.format) as Config["log"]["format"],
  };
}

function parseBinds(binds: string[]): Record<string, number> {
  const bindings: Record<string, number> = {};
  for (const b of binds) {
    const [k, v] = b.split("=");
    const n = Number(v);
    if (k === undefined || v === undefined || v === "" || !Number.isSafeInteger(n)) {
      throw new InvalidRequestError(`Invalid --bind '${b}': expected NAME=INTEGER`);
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
    throw new InvalidRequestError("Missing arguments: strata plan FILE FROM TO");
  }
  const bindings = parseBinds(binds);
  const ds = compileDescription(await readInputText(file));
  console.log(formatPlan(compilePlan([layoutOf(ds, from, bindings)], layoutOf(ds, to, bindings))));
  return 0;
}

async function check(file: string | undefined, binds: string[]): Promise<number> {
  if (file === undefined) {
    throw new InvalidRequestError("Missing FILE: strata check FILE");
  }
  const bindings = parseBinds(binds);
  const ds = compileDescription(await readInputText(file));
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
