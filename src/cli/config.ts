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
  /** Request limits. */
  readonly limits: { readonly maxBodyBytes: number };
}

/** The embedded defaults: loopback only, port 7070, 1 MiB control bodies. */
export const DEFAULT_CONFIG: Config = {
  listen: { hostname: "127.0.0.1", port: 7070 },
  limits: { maxBodyBytes: 1 << 20 },
};

/**
 * Reads a configuration from YAML text, filling in defaults and rejecting
 * unknown keys and wrong types with the key's path.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseConfig } from "./config.ts";
 * const c = parseConfig("listen:\n  port: 8080\n");
 * assert.equal(c.listen.port, 8080);
 * assert.equal(c.listen.hostname, "127.0.0.1");
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
  known(root, "", ["listen", "limits"]);
  const listen = section(root.listen ?? {}, "listen");
  known(listen, "listen", ["hostname", "port"]);
  const limits = section(root.limits ?? {}, "limits");
  known(limits, "limits", ["maxBodyBytes"]);
  const hostname = listen.hostname ?? DEFAULT_CONFIG.listen.hostname;
  if (typeof hostname !== "string" || hostname === "") {
    fail("listen.hostname", "a host name", hostname);
  }
  return {
    listen: {
      hostname,
      port: integer(listen.port ?? DEFAULT_CONFIG.listen.port, "listen.port", 0, 65535),
    },
    limits: {
      maxBodyBytes: integer(
        limits.maxBodyBytes ?? DEFAULT_CONFIG.limits.maxBodyBytes,
        "limits.maxBodyBytes",
        1,
        Number.MAX_SAFE_INTEGER,
      ),
    },
  };
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
