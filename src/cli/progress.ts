/**
 * Progress of long command-line operations on standard error: bytes, rate
 * and time left, redrawn in place, only when standard error is a terminal.
 *
 * @module
 */

/** Operations smaller than this show no progress. */
export const PROGRESS_MIN_BYTES = 4 * 1024 * 1024;

function size(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${n.toFixed(1)} ${units[i]}`;
}

function clock(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

/**
 * One progress line: what, bytes so far of the total, percent, rate and
 * time left.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatProgress } from "./progress.ts";
 * assert.equal(
 *   formatProgress("publish", 32 * 2 ** 20, 64 * 2 ** 20, 2000),
 *   "publish 32.0 MiB of 64.0 MiB  50%  16.8 MB/s  0:02 left",
 * );
 * ```
 */
export function formatProgress(
  what: string,
  done: number,
  total: number,
  elapsedMs: number,
): string {
  const pct = total > 0 ? Math.floor((100 * done) / total) : 100;
  const rate = elapsedMs > 0 ? done / (elapsedMs / 1000) : 0;
  const left = rate > 0 ? clock((total - done) / rate) : "-:--";
  return `${what} ${size(done)} of ${size(total)}  ${pct}%  ${
    (rate / 1e6).toFixed(1)
  } MB/s  ${left} left`;
}

/** Where a progress line goes, and whether it is shown at all. */
export interface ProgressOptions {
  /** Whether to show anything (default: standard error is a terminal). */
  readonly enabled?: boolean;
  /** Writes text as it is (default: standard error). */
  readonly write?: (text: string) => void;
  /** Least time between redraws, in ms (default 100). */
  readonly everyMs?: number;
}

const encoder = new TextEncoder();

/**
 * A progress line for an operation of `total` bytes: `update()` redraws it
 * (at most every `everyMs`), `done()` ends the line. Shows nothing when
 * disabled or when `total` is under `PROGRESS_MIN_BYTES`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { progress } from "./progress.ts";
 * let out = "";
 * const p = progress("attach", 8 * 2 ** 20, { enabled: true, write: (t) => out += t, everyMs: 0 });
 * p.update(4 * 2 ** 20);
 * p.done();
 * assert.match(out, /^\r\x1b\[2Kattach 4\.0 MiB of 8\.0 MiB  50%/);
 * assert.ok(out.endsWith("\n"));
 * ```
 */
export function progress(
  what: string,
  total: number,
  options: ProgressOptions = {},
): { update(done: number): void; done(): void } {
  const enabled = (options.enabled ?? Deno.stderr.isTerminal()) && total >= PROGRESS_MIN_BYTES;
  const write = options.write ??
    ((text: string) => Deno.stderr.writeSync(encoder.encode(text)));
  const every = options.everyMs ?? 100;
  const start = performance.now();
  let last = -Infinity;
  let shown = false;
  let latest = 0;
  const draw = () => {
    write(`\r\x1b[2K${formatProgress(what, latest, total, performance.now() - start)}`);
    shown = true;
  };
  return {
    update(done: number) {
      latest = done;
      if (!enabled) return;
      const now = performance.now();
      if (now - last < every && done < total) return;
      last = now;
      draw();
    },
    done() {
      if (!enabled) return;
      if (!shown || latest < total) draw();
      write("\n");
    },
  };
}

/**
 * Says on standard error, when it is a terminal, what a command waits for.
 *
 * @example
 * ```ts
 * import { sayWaiting } from "./progress.ts";
 * sayWaiting("version 3 of 'particles' to be committed", 10_000, { enabled: false });
 * ```
 */
export function sayWaiting(what: string, ms: number, options: ProgressOptions = {}): void {
  if (!(options.enabled ?? Deno.stderr.isTerminal())) return;
  const write = options.write ??
    ((text: string) => Deno.stderr.writeSync(encoder.encode(text)));
  write(`waiting up to ${(ms / 1000).toFixed(ms % 1000 === 0 ? 0 : 1)} s for ${what}\n`);
}
