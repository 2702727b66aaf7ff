/**
 * Quantities in tier declarations: byte sizes, bandwidths and latencies, as
 * plain numbers or as text with a unit. Each parser returns undefined for
 * text it does not read, so the caller can name the key.
 *
 * @module
 */

const BYTES: Readonly<Record<string, number>> = {
  "": 1,
  B: 1,
  KB: 1e3,
  MB: 1e6,
  GB: 1e9,
  TB: 1e12,
  KiB: 1024,
  MiB: 1024 ** 2,
  GiB: 1024 ** 3,
  TiB: 1024 ** 4,
};

/** Units per second: dividing by an exact integer keeps '100ns' equal to 100e-9. */
const PER_SECOND: Readonly<Record<string, number>> = {
  s: 1,
  ms: 1e3,
  us: 1e6,
  "µs": 1e6,
  ns: 1e9,
};

const NUMBER = "([0-9]+(?:\\.[0-9]+)?)";

/** A whole number of bytes: `4096`, `'512MiB'`, `'4GiB'`, `'2GB'`. */
export function byteSize(v: unknown): number | undefined {
  if (typeof v === "number") return Number.isSafeInteger(v) && v > 0 ? v : undefined;
  if (typeof v !== "string") return undefined;
  const m = new RegExp(`^\\s*${NUMBER}\\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)?\\s*$`).exec(v);
  if (m === null) return undefined;
  const n = Math.round(Number(m[1]) * BYTES[m[2] ?? ""]!);
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}

/** Bytes per second: `2e9`, `'10GB/s'`, `'800MiB/s'`. */
export function bandwidth(v: unknown): number | undefined {
  if (typeof v === "number") return Number.isFinite(v) && v > 0 ? v : undefined;
  if (typeof v !== "string") return undefined;
  const m = new RegExp(`^\\s*${NUMBER}\\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)/s\\s*$`).exec(v);
  if (m === null) return undefined;
  const n = Number(m[1]) * BYTES[m[2]!]!;
  return n > 0 ? n : undefined;
}

/** Seconds: `0.001`, `'100ns'`, `'5us'`, `'2ms'`, `'1s'`. */
export function latency(v: unknown): number | undefined {
  if (typeof v === "number") return Number.isFinite(v) && v >= 0 ? v : undefined;
  if (typeof v !== "string") return undefined;
  const m = new RegExp(`^\\s*${NUMBER}\\s*(s|ms|us|µs|ns)\\s*$`).exec(v);
  if (m === null) return undefined;
  return Number(m[1]) / PER_SECOND[m[2]!]!;
}
