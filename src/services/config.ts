/**
 * The `services` section of config/strata.yaml: which services run, over
 * how many targets, and their own options.
 *
 * @module
 */

import { InvalidConfigError } from "../errors.ts";
import { byteSize } from "../tiers/_units.ts";
import { MAX_TARGETS } from "./targets.ts";

/** One service's configuration. */
export interface ServiceConfig {
  /** Whether it runs (default true when listed). */
  readonly enabled: boolean;
  /** How many targets its keys hash to (default 4). */
  readonly targets: number;
  /** Points per target on the ring (default 4). */
  readonly virtualNodes: number;
  /** Whether its blobs need a copy on a persistent tier before a write is answered (default true). */
  readonly durable: boolean;
  /** Largest request body of its routes, in bytes (default 64 MiB). */
  readonly maxBodyBytes: number;
  /** Its own settings, checked by the service. */
  readonly options: Readonly<Record<string, unknown>>;
  /**
   * The runtimes (node names) its targets belong to, target `i` to entry
   * `i mod R`; the same list, in the same order, on every runtime. Empty
   * (default): every target on the runtime serving the request.
   */
  readonly runtimes: readonly string[];
  /**
   * How often this runtime sweeps the service's blobs that no key names
   * (`ServiceMeta.sweepBlobs`), in ms: 0 never; at least 1000 (default
   * 600 000, ten minutes).
   */
  readonly blobSweepMs?: number;
}

/** Services by name. */
export type ServicesConfig = Readonly<Record<string, ServiceConfig>>;

const KEYS = [
  "enabled",
  "targets",
  "virtualNodes",
  "durable",
  "maxBodyBytes",
  "options",
  "runtimes",
  "blobSweepMs",
];

/**
 * Reads the `services` section (absent: no services).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseServicesConfig } from "./config.ts";
 * const s = parseServicesConfig({ hepnos: { targets: 8, options: { overwrite: false } } });
 * assert.equal(s.hepnos?.targets, 8);
 * assert.equal(s.hepnos?.enabled, true);
 * assert.throws(() => parseServicesConfig({ hepnos: { target: 8 } }), /unknown key 'services.hepnos.target'/);
 * // Body limits in bytes or with a unit.
 * assert.equal(parseServicesConfig({ flamestore: { maxBodyBytes: "256MiB" } }).flamestore?.maxBodyBytes, 256 << 20);
 * assert.throws(() => parseServicesConfig({ flamestore: { maxBodyBytes: "3GiB" } }), /from 1024 bytes to 2GiB/);
 * ```
 */
export function parseServicesConfig(raw: unknown): ServicesConfig {
  if (raw === undefined || raw === null) return {};
  const root = mapping(raw, "services");
  const out: Record<string, ServiceConfig> = {};
  for (const [name, v] of Object.entries(root)) {
    const path = `services.${name}`;
    if (!/^[a-z][a-z0-9_-]{0,31}$/.test(name)) {
      fail(path, "a service name of lower-case letters, digits, '_' and '-'", name);
    }
    const s = mapping(v ?? {}, path);
    for (const k of Object.keys(s)) {
      if (!KEYS.includes(k)) {
        throw new InvalidConfigError(
          `Invalid configuration: unknown key '${path}.${k}', expected one of ${KEYS.join(", ")}`,
        );
      }
    }
    out[name] = {
      enabled: bool(s.enabled ?? true, `${path}.enabled`),
      targets: int(s.targets ?? 4, `${path}.targets`, 1, MAX_TARGETS),
      virtualNodes: int(s.virtualNodes ?? 4, `${path}.virtualNodes`, 1, 256),
      durable: bool(s.durable ?? true, `${path}.durable`),
      maxBodyBytes: bodyBytes(s.maxBodyBytes ?? 64 << 20, `${path}.maxBodyBytes`),
      options: mapping(s.options ?? {}, `${path}.options`),
      runtimes: names(s.runtimes ?? [], `${path}.runtimes`),
      blobSweepMs: sweepMs(s.blobSweepMs ?? 600_000, `${path}.blobSweepMs`),
    };
  }
  return out;
}

function mapping(v: unknown, path: string): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) fail(path, "a mapping", v);
  return v as Record<string, unknown>;
}

function names(v: unknown, path: string): string[] {
  if (
    !Array.isArray(v) || v.length > 1024 ||
    v.some((n) => typeof n !== "string" || !/^[A-Za-z0-9_.-]{1,64}$/.test(n)) ||
    new Set(v).size !== v.length
  ) fail(path, "a list of distinct node names", v);
  return v as string[];
}

function bool(v: unknown, path: string): boolean {
  if (typeof v !== "boolean") fail(path, "true or false", v);
  return v;
}

/** A body limit: bytes, or a size with a unit (`64MiB`, `1GiB`), from 1 KiB to 2 GiB. */
function bodyBytes(v: unknown, path: string): number {
  const n = byteSize(v);
  if (n === undefined || n < 1024 || n > 2 ** 31) {
    fail(path, "a size from 1024 bytes to 2GiB (bytes, or with a unit: 64MiB)", v);
  }
  return n;
}

function sweepMs(v: unknown, path: string): number {
  if (v === 0) return 0;
  return int(v, path, 1000, 86_400_000);
}

function int(v: unknown, path: string, lo: number, hi: number): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < lo || v > hi) {
    fail(path, `an integer from ${lo} to ${hi}`, v);
  }
  return v;
}

function fail(path: string, expected: string, found: unknown): never {
  throw new InvalidConfigError(
    `Invalid configuration: '${path}' must be ${expected}, found ${JSON.stringify(found)}`,
  );
}
