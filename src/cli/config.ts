/**
 * Service configuration: embedded defaults, overridden by a YAML file.
 *
 * @module
 */

import { parse, YAMLError } from "yaml";
import { StrataError } from "../errors.ts";

/** The service's configuration. */
export interface Config {
  /** Where the HTTP API listens. */
  readonly listen: { readonly hostname: string; readonly port: number };
  /** This runtime's node name. */
  readonly node: string;
  /** Directory of the registry's KV file and the file tier. */
  readonly dataDir: string;
  /** Tier capacities in bytes. */
  readonly tiers: { readonly memory: number; readonly file: number };
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
}

const GiB = 1024 ** 3;

/** The embedded defaults: loopback only, port 7070, data under ./data. */
export const DEFAULT_CONFIG: Config = {
  listen: { hostname: "127.0.0.1", port: 7070 },
  node: "local",
  dataDir: "data",
  tiers: { memory: 4 * GiB, file: 64 * GiB },
  limits: { maxBodyBytes: 1 << 20, maxPayloadBytes: 2 * GiB },
  nameservers: [],
  wire: { hostname: "127.0.0.1", port: 0 },
  leaseMs: 10_000,
  reshape: "auto",
};

/**
 * Reads a configuration from YAML text, filling in defaults and rejecting
 * unknown keys and wrong types with the key's path. Byte sizes are integers
 * or strings with a unit (`512MiB`, `4GiB`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseConfig } from "./config.ts";
 * const c = parseConfig("listen:\n  port: 8080\ntiers:\n  memory: 512MiB\n");
 * assert.equal(c.listen.port, 8080);
 * assert.equal(c.listen.hostname, "127.0.0.1");
 * assert.equal(c.tiers.memory, 512 * 1024 * 1024);
 * ```
 */
export function parseConfig(text: string): Config {
  let raw: unknown;
  try {
    raw = parse(text) ?? {};
  } catch (e) {
    if (e instanceof YAMLError) {
      throw new StrataError("invalid_config", `Invalid configuration: ${e.message}`);
    }
    throw e;
  }
  const root = section(raw, "");
  known(root, "", [
    "listen",
    "node",
    "dataDir",
    "tiers",
    "limits",
    "token",
    "nameservers",
    "wire",
    "leaseMs",
    "reshape",
    "kv",
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
  const tiers = section(root.tiers ?? {}, "tiers");
  known(tiers, "tiers", ["memory", "file"]);
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
    tiers: {
      memory: bytes(tiers.memory ?? d.tiers.memory, "tiers.memory"),
      file: bytes(tiers.file ?? d.tiers.file, "tiers.file"),
    },
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
  };
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
      throw new StrataError(
        "invalid_config",
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
  throw new StrataError(
    "invalid_config",
    `Invalid configuration: '${path}' must be ${expected}, found ${JSON.stringify(found)}`,
  );
}
