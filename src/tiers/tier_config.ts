/**
 * Tier declarations (config/tiers.yaml): name, kind, capacity, bandwidth,
 * latency, persistence and directory of each tier of a node, fastest first.
 * Pure: parses text, reads no file.
 *
 * @module
 */

import { LineCounter, parseDocument } from "yaml";
import { InvalidConfigError } from "../errors.ts";
import { SHM_ROOT } from "./shm_tier.ts";
import { type Tier, TIER_KINDS, type TierKind } from "./tier.ts";
import { bandwidth, byteSize, latency } from "./_units.ts";

/** One declared tier. */
export interface TierSpec {
  /** Name, unique on the node; recorded with every copy the tier holds. */
  readonly name: string;
  /** Kind of store. */
  readonly kind: TierKind;
  /** Capacity in bytes. */
  readonly capacity: number;
  /** Sustained bandwidth in bytes per second (placement estimates access time with it). */
  readonly bandwidth: number;
  /** Latency of one access in seconds. */
  readonly latency: number;
  /** Whether copies survive a restart of the runtime (always false for memory, true for backing). */
  readonly persistent: boolean;
  /**
   * Directory of a shm, file or backing tier. Relative paths are under the
   * data directory; the default is `<dataDir>/<name>`, or
   * `/dev/shm/strata/<node>/<name>` for shm (whose path must be absolute, on
   * a tmpfs).
   */
  readonly path?: string;
}

/** A tier with its declaration. */
export interface DeclaredTier {
  /** The store. */
  readonly tier: Tier;
  /** What config says about it (speed, persistence). */
  readonly spec: TierSpec;
}

/** Speed and persistence a kind gets when its declaration does not say. */
export const KIND_DEFAULTS: Readonly<
  Record<TierKind, { bandwidth: number; latency: number; persistent: boolean }>
> = {
  memory: { bandwidth: 10e9, latency: 100e-9, persistent: false },
  shm: { bandwidth: 5e9, latency: 1e-6, persistent: false },
  file: { bandwidth: 1e9, latency: 100e-6, persistent: true },
  backing: { bandwidth: 0.5e9, latency: 1e-3, persistent: true },
};

const GiB = 1024 ** 3;

/** The tiers of a node whose config declares none: memory, then file, then backing under the data directory. */
export const DEFAULT_TIERS: readonly TierSpec[] = [
  { name: "memory", kind: "memory", capacity: 4 * GiB, ...KIND_DEFAULTS.memory },
  { name: "file", kind: "file", capacity: 64 * GiB, ...KIND_DEFAULTS.file },
  { name: "backing", kind: "backing", capacity: 1024 * GiB, ...KIND_DEFAULTS.backing },
];

const KEYS = ["name", "kind", "capacity", "bandwidth", "latency", "persistent", "path"];
const NAME = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;

/** Where a config error is: a key path such as `["tiers", 1, "capacity"]`. */
export type ConfigPath = readonly (string | number)[];

/** Options of `checkTiers()`. */
export interface CheckTiersOptions {
  /** Text before each message, such as `Invalid configuration`. */
  readonly prefix: string;
  /** Key path of the list (default `["tiers"]`). */
  readonly at?: ConfigPath;
  /** Where a key path is in the source, as `line:col`, when known. */
  readonly locate?: (path: ConfigPath, key: boolean) => string | undefined;
}

/**
 * Reads config/tiers.yaml text: a mapping whose `tiers` key lists the tiers
 * fastest first. Errors name the file, line and column, the key and what was
 * expected and found.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseTiersFile } from "./tier_config.ts";
 * const tiers = parseTiersFile(
 *   "tiers:\n  - { name: memory, kind: memory, capacity: 1GiB }\n  - { name: disk, kind: file, capacity: 8GiB, bandwidth: 2GB/s, latency: 50us }\n",
 *   "tiers.yaml",
 * );
 * assert.deepEqual(tiers.map((t) => [t.name, t.capacity, t.persistent]), [["memory", 1 << 30, false], ["disk", 8 * 2 ** 30, true]]);
 * assert.equal(tiers[1]!.bandwidth, 2e9);
 * assert.throws(() => parseTiersFile("tiers:\n  - { name: m, kind: ram, capacity: 1 }\n", "tiers.yaml"), {
 *   message: "Invalid tiers in tiers.yaml: 2:22: 'tiers[0].kind' must be one of memory, shm, file, backing, found \"ram\"",
 * });
 * ```
 */
export function parseTiersFile(text: string, source: string): TierSpec[] {
  const prefix = `Invalid tiers in ${source}`;
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, logLevel: "error" });
  const [first] = doc.errors;
  if (first !== undefined) {
    const at = first.linePos?.[0];
    const where = at === undefined ? "" : `${at.line}:${at.col}: `;
    throw new InvalidConfigError(`${prefix}: ${where}${yamlMessage(first.message)}`);
  }
  let root: unknown;
  try {
    root = doc.toJS() ?? {};
  } catch (e) {
    // An alias the library cannot resolve (ReferenceError) or expands too often (RangeError).
    if (!(e instanceof ReferenceError || e instanceof RangeError)) throw e;
    throw new InvalidConfigError(`${prefix}: ${yamlMessage(e.message)}`);
  }
  const locate = (path: ConfigPath, key: boolean): string | undefined => {
    let node = doc.getIn(path, true) as { range?: [number, number, number] } | undefined;
    if (key && path.length > 0) {
      const parent = doc.getIn(path.slice(0, -1), true) as {
        items?: { key?: { value?: unknown; range?: [number, number, number] } }[];
      };
      node = parent?.items?.find((p) => p.key?.value === path.at(-1))?.key ?? node;
    }
    // A key whose value is empty (`tiers:`) has no node of its own: point at
    // the key; one whose key has none either (an alias), at its parent.
    if (node?.range === undefined && path.length > 0) {
      return key ? locate(path.slice(0, -1), false) : locate(path, true);
    }
    if (node?.range === undefined) return undefined;
    const p = lines.linePos(node.range[0]);
    return `${p.line}:${p.col}`;
  };
  if (typeof root !== "object" || root === null || Array.isArray(root)) {
    throw new InvalidConfigError(
      `${prefix}: expected a mapping with a 'tiers' list, found ${JSON.stringify(root)}`,
    );
  }
  for (const k of Object.keys(root)) {
    if (k !== "tiers") {
      const where = locate([k], true);
      throw new InvalidConfigError(
        `${prefix}: ${where === undefined ? "" : where + ": "}unknown key '${k}', expected tiers`,
      );
    }
  }
  return checkTiers((root as { tiers?: unknown }).tiers, { prefix, locate });
}

/**
 * Checks a list of tier declarations (already parsed from YAML), fills in
 * each kind's defaults, and returns the tiers in order. Throws
 * `StrataError` `invalid_config` naming the first bad key.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkTiers } from "./tier_config.ts";
 * const [shm] = checkTiers([{ name: "shm", kind: "shm", capacity: "2GiB", latency: "2us" }], { prefix: "Invalid configuration" });
 * assert.equal(shm!.latency, 2e-6);
 * assert.throws(() => checkTiers([{ name: "m", kind: "memory", capacity: 1, persistent: true }], { prefix: "Invalid configuration" }), {
 *   message: "Invalid configuration: 'tiers[0].persistent' must be false for a memory tier, found true",
 * });
 * ```
 */
export function checkTiers(value: unknown, options: CheckTiersOptions): TierSpec[] {
  const base = options.at ?? ["tiers"];
  const fail = (path: ConfigPath, expected: string, found: unknown, key = false): never => {
    const where = options.locate?.(path, key);
    throw new InvalidConfigError(
      `${options.prefix}: ${where === undefined ? "" : where + ": "}'${show(path)}' ${expected}${
        found === undefined ? "" : `, found ${JSON.stringify(found)}`
      }`,
    );
  };
  if (!Array.isArray(value) || value.length === 0) {
    fail(base, "must be a list of at least one tier", value ?? null);
  }
  const seen = new Set<string>();
  return (value as unknown[]).map((raw, i): TierSpec => {
    const at = [...base, i];
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
      fail(at, "must be a mapping with name, kind and capacity", raw);
    }
    const t = raw as Record<string, unknown>;
    for (const k of Object.keys(t)) {
      if (!KEYS.includes(k)) {
        fail([...at, k], `is not a tier key: expected one of ${KEYS.join(", ")}`, undefined, true);
      }
    }
    for (const k of ["name", "kind", "capacity"]) {
      if (t[k] === undefined) fail(at, `must have a '${k}'`, undefined);
    }
    if (typeof t.name !== "string" || !NAME.test(t.name)) {
      fail([...at, "name"], "must be a letter then up to 63 letters, digits, '_' or '-'", t.name);
    }
    const name = t.name as string;
    if (seen.has(name)) fail([...at, "name"], "must be unique: another tier has that name", name);
    seen.add(name);
    if (!TIER_KINDS.includes(t.kind as TierKind)) {
      fail([...at, "kind"], `must be one of ${TIER_KINDS.join(", ")}`, t.kind);
    }
    const kind = t.kind as TierKind;
    const defaults = KIND_DEFAULTS[kind];
    const capacity = byteSize(t.capacity) ??
      fail([...at, "capacity"], "must be a byte size such as 1048576 or '512MiB'", t.capacity);
    const bw = t.bandwidth === undefined ? defaults.bandwidth : bandwidth(t.bandwidth) ??
      fail([...at, "bandwidth"], "must be bytes per second such as 2e9 or '10GB/s'", t.bandwidth);
    const lat = t.latency === undefined ? defaults.latency : latency(t.latency) ??
      fail([...at, "latency"], "must be seconds such as 0.0001 or '100us'", t.latency);
    const persistent = t.persistent ?? defaults.persistent;
    if (typeof persistent !== "boolean") {
      fail([...at, "persistent"], "must be true or false", persistent);
    }
    if (kind === "memory" && persistent) {
      fail([...at, "persistent"], "must be false for a memory tier", persistent);
    }
    if (kind === "backing" && !persistent) {
      fail([...at, "persistent"], "must be true for a backing tier", persistent);
    }
    if (t.path !== undefined) {
      if (kind === "memory") fail([...at, "path"], "is not allowed for a memory tier", t.path);
      if (typeof t.path !== "string" || t.path === "") {
        fail([...at, "path"], "must be a directory", t.path);
      }
      if (kind === "shm" && !(t.path as string).startsWith("/")) {
        fail([...at, "path"], "must be an absolute directory on a tmpfs for an shm tier", t.path);
      }
    }
    return {
      name,
      kind,
      capacity,
      bandwidth: bw,
      latency: lat,
      persistent: persistent as boolean,
      ...(t.path === undefined ? {} : { path: t.path as string }),
    };
  });
}

/**
 * The directory of a shm, file or backing tier on a node: its `path`
 * (relative ones under the data directory), or the default for its kind.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tierDirectory } from "./tier_config.ts";
 * const where = { dataDir: "data", node: "n1" };
 * assert.equal(tierDirectory({ name: "file", kind: "file" }, where), "data/file");
 * assert.equal(tierDirectory({ name: "pfs", kind: "backing", path: "/scratch/pfs" }, where), "/scratch/pfs");
 * assert.equal(tierDirectory({ name: "shm", kind: "shm" }, where), "/dev/shm/strata/n1/shm");
 * ```
 */
export function tierDirectory(
  spec: Pick<TierSpec, "name" | "kind" | "path">,
  where: { readonly dataDir: string; readonly node: string },
): string {
  if (spec.path !== undefined) {
    return spec.path.startsWith("/") ? spec.path : `${where.dataDir}/${spec.path}`;
  }
  if (spec.kind === "shm") return `${SHM_ROOT}/strata/${where.node}/${spec.name}`;
  return `${where.dataDir}/${spec.name}`;
}

/** The first line of a YAML parser message, without the position it repeats. */
function yamlMessage(message: string): string {
  return message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "");
}

function show(path: ConfigPath): string {
  let out = "";
  for (const p of path) out += typeof p === "number" ? `[${p}]` : out === "" ? p : `.${p}`;
  return out;
}
