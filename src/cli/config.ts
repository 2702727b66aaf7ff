/**
 * Service configuration: embedded defaults, overridden by a YAML file.
 *
 * @module
 */

import { parse, YAMLError } from "yaml";
import { InvalidConfigError } from "../errors.ts";
import { checkTiers, DEFAULT_TIERS, parseTiersFile, type TierSpec } from "../tiers/tier_config.ts";
import { parseServicesConfig, type ServicesConfig } from "../services/config.ts";
import { LOG_LEVELS, type LogFormat, type LogLevel } from "../observe/mod.ts";
import { DEFAULT_NICE } from "../functions/launcher.ts";

/** The service's configuration. */
export interface Config {
  /** Where the HTTP API listens. */
  readonly listen: { readonly hostname: string; readonly port: number };
  /** This runtime's node name. */
  readonly node: string;
  /** Directory of the registry's KV file and of the tiers' directories. */
  readonly dataDir: string;
  /** This node's tiers, fastest first (from `tiersFile` when config names one). */
  readonly tiers: readonly TierSpec[];
  /** The tier declarations file (config/tiers.yaml) the tiers come from, when config names one. */
  readonly tiersFile?: string;
  /** Placement policy: a built-in's name or a policy module's path. */
  readonly placement: string;
  /** Request limits. */
  readonly limits: { readonly maxBodyBytes: number; readonly maxPayloadBytes: number };
  /** Bearer token for mutating requests, when set. */
  readonly token?: string;
  /** Name server base URLs, the shard list (`strata runtime`; `--nameserver` overrides). */
  readonly nameservers: readonly string[];
  /** Where the data plane listens (port 0: any free port, registered with the lease). */
  readonly wire: { readonly hostname: string; readonly port: number };
  /** Node lease, in ms: a runtime that does not renew it for this long is down. */
  readonly leaseMs: number;
  /** Where reshapes of copies held by other nodes run unless an attach says. */
  readonly reshape: "auto" | "source" | "destination";
  /** The registry's Deno KV: a file path or a KV Connect URL (default `<dataDir>/registry.kv`). */
  readonly kv?: string;
  /** Function sandbox processes: how many, and how long an idle one is kept. */
  readonly functions: {
    /** Processes per function version, at most. */
    readonly processesPerVersion: number;
    /** Processes in all, at most (loaded and spare). */
    readonly maxProcesses: number;
    /** Spare processes kept started with nothing loaded. */
    readonly spares: number;
    /** An idle process is killed after this long, in ms. */
    readonly idleMs: number;
    /** The niceness sandbox processes run at: 0 (the service's priority) to 19. */
    readonly nice: number;
  };
  /** The log on standard error: lines below `level` are dropped; `format` text or json (lines). */
  readonly log: { readonly level: LogLevel; readonly format: LogFormat };
  /** The kit's services `strata serve` runs, by name (docs/services.md). */
  readonly services: ServicesConfig;
}

const GiB = 1024 ** 3;

/**
 * The embedded defaults: loopback only, port 7070, data under ./data, tiers
 * memory (4 GiB), file (64 GiB) and backing (1 TiB), placed fastest-fit.
 */
export const DEFAULT_CONFIG: Config = {
  listen: { hostname: "127.0.0.1", port: 7070 },
  node: "local",
  dataDir: "data",
  tiers: DEFAULT_TIERS,
  placement: "fastest-fit",
  limits: { maxBodyBytes: 1 << 20, maxPayloadBytes: 2 * GiB },
  nameservers: [],
  wire: { hostname: "127.0.0.1", port: 0 },
  leaseMs: 10_000,
  reshape: "auto",
  functions: {
    processesPerVersion: 2,
    maxProcesses: 16,
    spares: 1,
    idleMs: 30_000,
    nice: DEFAULT_NICE,
  },
  log: { level: "info", format: "text" },
  services: {},
};

/**
 * Reads a configuration from YAML text, filling in defaults and rejecting
 * unknown keys and wrong types with the key's path. Byte sizes are integers
 * or strings with a unit (`512MiB`, `4GiB`). `tiers` is the path of a tier
 * declarations file (read by `loadConfig()`) or the list of declarations.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseConfig } from "./config.ts";
 * const c = parseConfig("listen:\n  port: 8080\ntiers:\n  - { name: memory, kind: memory, capacity: 512MiB }\n");
 * assert.equal(c.listen.port, 8080);
 * assert.equal(c.listen.hostname, "127.0.0.1");
 * assert.equal(c.tiers[0]!.capacity, 512 * 1024 * 1024);
 * assert.equal(parseConfig("tiers: config/tiers.yaml\n").tiersFile, "config/tiers.yaml");
 * ```
 */
export function parseConfig(text: string): Config {
  let raw: unknown;
  try {
    // Warnings (an ambiguous alias, say) are not printed: what matters is refused below.
    raw = parse(text, { logLevel: "error" }) ?? {};
  } catch (e) {
    // YAMLError for the syntax; ReferenceError or RangeError for an alias the
    // library cannot resolve or expands too often: all are the text's fault.
    if (e instanceof YAMLError || e instanceof ReferenceError || e instanceof RangeError) {
      throw new InvalidConfigError(`Invalid configuration: ${e.message}`);
    }
    throw e;
  }
  const root = section(raw, "");
  known(root, "", [
    "listen",
    "node",
    "dataDir",
    "tiers",
    "placement",
    "limits",
    "token",
    "nameservers",
    "wire",
    "leaseMs",
    "reshape",
    "kv",
    "functions",
    "services",
    "log",
  ]);
  const logSection = section(root.log ?? {}, "log");
  known(logSection, "log", ["level", "format"]);
  const level = logSection.level ?? DEFAULT_CONFIG.log.level;
  if (!LOG_LEVELS.includes(level as LogLevel)) {
    fail("log.level", `one of ${LOG_LEVELS.join(", ")}`, level);
  }
  const format = logSection.format ?? DEFAULT_CONFIG.log.format;
  if (format !== "text" && format !== "json") fail("log.format", "text or json", format);
  const functions = section(root.functions ?? {}, "functions");
  known(functions, "functions", [
    "processesPerVersion",
    "maxProcesses",
    "spares",
    "idleMs",
    "nice",
  ]);
  const wire = section(root.wire ?? {}, "wire");
  known(wire, "wire", ["hostname", "port"]);
  const nameservers = root.nameservers ?? [];
  if (!Array.isArray(nameservers) || nameservers.some((u) => !/^https?:\/\/./.test(String(u)))) {
    fail("nameservers", "a list of http:// URLs", nameservers);
  }
  const reshape = root.reshape ?? "auto";
  if (reshape !== "auto" && reshape !== "source" && reshape !== "destination") {
    fail("reshape", "auto, source or destination", reshape);
  }
  const listen = section(root.listen ?? {}, "listen");
  known(listen, "listen", ["hostname", "port"]);
  const tiersFile = typeof root.tiers === "string" ? text_(root.tiers, "tiers") : undefined;
  const tiers = root.tiers === undefined || tiersFile !== undefined
    ? DEFAULT_TIERS
    : checkTiers(root.tiers, { prefix: "Invalid configuration" });
  const limits = section(root.limits ?? {}, "limits");
  known(limits, "limits", ["maxBodyBytes", "maxPayloadBytes"]);
  const d = DEFAULT_CONFIG;
  const token = root.token;
  if (token !== undefined && (typeof token !== "string" || token.length < 8)) {
    fail("token", "a string of at least 8 characters", "(hidden)");
  }
  return {
    listen: {
      hostname: text_(listen.hostname ?? d.listen.hostname, "listen.hostname"),
      port: integer(listen.port ?? d.listen.port, "listen.port", 0, 65535),
    },
    node: text_(root.node ?? d.node, "node"),
    dataDir: text_(root.dataDir ?? d.dataDir, "dataDir"),
    tiers,
    ...(tiersFile === undefined ? {} : { tiersFile }),
    placement: text_(root.placement ?? d.placement, "placement"),
    limits: {
      maxBodyBytes: bytes(limits.maxBodyBytes ?? d.limits.maxBodyBytes, "limits.maxBodyBytes"),
      maxPayloadBytes: bytes(
        limits.maxPayloadBytes ?? d.limits.maxPayloadBytes,
        "limits.maxPayloadBytes",
      ),
    },
    ...(token === undefined ? {} : { token: token as string }),
    nameservers: nameservers as string[],
    wire: {
      hostname: text_(wire.hostname ?? d.wire.hostname, "wire.hostname"),
      port: integer(wire.port ?? d.wire.port, "wire.port", 0, 65535),
    },
    leaseMs: integer(root.leaseMs ?? d.leaseMs, "leaseMs", 100, 3_600_000),
    reshape,
    ...(root.kv === undefined ? {} : { kv: text_(root.kv, "kv") }),
    functions: {
      processesPerVersion: integer(
        functions.processesPerVersion ?? d.functions.processesPerVersion,
        "functions.processesPerVersion",
        1,
        256,
      ),
      maxProcesses: integer(
        functions.maxProcesses ?? d.functions.maxProcesses,
        "functions.maxProcesses",
        1,
        4096,
      ),
      spares: integer(functions.spares ?? d.functions.spares, "functions.spares", 0, 64),
      idleMs: integer(functions.idleMs ?? d.functions.idleMs, "functions.idleMs", 100, 86_400_000),
      nice: integer(functions.nice ?? d.functions.nice, "functions.nice", 0, 19),
    },
    log: { level: level as LogLevel, format },
    services: parseServicesConfig(root.services),
  };
}

/**
 * Reads the configuration file at `path` (default config/strata.yaml, whose
 * absence means the embedded defaults) and the tier declarations file it
 * names.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadConfig } from "./config.ts";
 * const c = await loadConfig("config/strata.yaml");
 * assert.deepEqual(c.tiers.map((t) => t.name), ["memory", "file", "backing"]);
 * ```
 */
export async function loadConfig(path: string | undefined): Promise<Config> {
  const file = path ?? "config/strata.yaml";
  let config: Config;
  try {
    config = parseConfig(await Deno.readTextFile(file));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound && path === undefined) return DEFAULT_CONFIG;
    if (e instanceof Deno.errors.NotFound) {
      throw new InvalidConfigError(`No config file: ${file}`);
    }
    throw e;
  }
  if (config.tiersFile === undefined) return config;
  let text: string;
  try {
    text = await Deno.readTextFile(config.tiersFile);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new InvalidConfigError(
        `No tiers file: ${config.tiersFile} (named by 'tiers' in ${file})`,
      );
    }
    throw e;
  }
  return { ...config, tiers: parseTiersFile(text, config.tiersFile) };
}

const UNITS: Record<string, number> = {
  "": 1,
  B: 1,
  KiB: 1024,
  MiB: 1024 ** 2,
  GiB,
  TiB: 1024 * GiB,
};

function bytes(v: unknown, path: string): number {
  if (typeof v === "string") {
    const m = /^\s*([0-9]+)\s*(B|KiB|MiB|GiB|TiB)?\s*$/.exec(v);
    if (m === null) fail(path, "a byte size such as 1048576 or '512MiB'", v);
    return integer(Number(m[1]) * UNITS[m[2] ?? ""]!, path, 1, Number.MAX_SAFE_INTEGER);
  }
  return integer(v, path, 1, Number.MAX_SAFE_INTEGER);
}

function text_(v: unknown, path: string): string {
  if (typeof v !== "string" || v === "") fail(path, "a non-empty string", v);
  return v;
}

function section(v: unknown, path: string): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    fail(path || "the file", "a mapping", v);
  }
  return v as Record<string, unknown>;
}

function known(obj: Record<string, unknown>, path: string, keys: string[]): void {
  for (const k of Object.keys(obj)) {
    if (!keys.includes(k)) {
      throw new InvalidConfigError(
        `Invalid configuration: unknown key '${path ? path + "." : ""}${k}', expected one of ${
          keys.join(", ")
        }`,
      );
    }
  }
}

function integer(v: unknown, path: string, min: number, max: number): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    fail(path, `an integer from ${min} to ${max}`, v);
  }
  return v as number;
}

function fail(path: string, expected: string, found: unknown): never {
  throw new InvalidConfigError(
    `Invalid configuration: '${path}' must be ${expected}, found ${JSON.stringify(found)}`,
  );
}
