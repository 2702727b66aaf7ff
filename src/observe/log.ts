/**
 * The service's log: one structured line per request and per notable event,
 * on standard error, as text or JSON lines, filtered by level.
 *
 * @module
 */

/** How much is said: `debug` says everything, `error` only failures. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** The form of each line: `text` (`TIME LEVEL event key=value ...`) or `json` (one object). */
export type LogFormat = "text" | "json";

/** The fields of one line; undefined fields are left out. */
export type LogFields = Readonly<Record<string, string | number | boolean | null | undefined>>;

/** The levels, quietest last. */
export const LOG_LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error"];

/** The log's settings. */
export interface LogOptions {
  /** Lines below this level are dropped (default `warn` until a process configures it). */
  readonly level?: LogLevel;
  /** The form of each line (default `text`). */
  readonly format?: LogFormat;
  /**
   * Where lines go (default standard error: lines below `warn` held up to
   * 20 ms so that a busy process writes them in few system calls; see
   * `flushLog`).
   */
  readonly write?: (line: string) => void;
}

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };
const encoder = new TextEncoder();

/** Characters of lines held for standard error before they are written at once. */
const HELD_CHARS = 32 * 1024;
/** How long a line below `warn` may wait for the next ones, in ms. */
const HELD_MS = 20;

/**
 * Lines waiting for standard error: a busy server logs a line per request,
 * and a system call per line, into a pipe, cost a tenth of the creates a
 * server answered under wrk (35-36k/s against 39k with lines held).
 * Lines of `warn` and `error` go at once with those before them; the rest
 * within `HELD_MS` or once `HELD_CHARS` wait, and at the process's exit.
 */
let held = "";
let heldTimer: ReturnType<typeof setTimeout> | undefined;

/**
 * Writes the lines held for standard error now. A process that ends
 * normally or by `Deno.exit` writes them itself (its `unload` event); one
 * killed loses at most `HELD_MS` of lines below `warn`.
 *
 * @example
 * ```ts
 * import { flushLog, log } from "./log.ts";
 * log.warn("tier full", { tier: "memory" });
 * flushLog();
 * ```
 */
export function flushLog(): void {
  if (heldTimer !== undefined) {
    clearTimeout(heldTimer);
    heldTimer = undefined;
  }
  if (held === "") return;
  const bytes = encoder.encode(held);
  held = "";
  // A closed or full standard error must not fail the request that logs.
  try {
    for (let at = 0; at < bytes.byteLength;) at += Deno.stderr.writeSync(bytes.subarray(at));
  } catch { /* nowhere to say it */ }
}

globalThis.addEventListener("unload", flushLog);

function toStderr(line: string, urgent: boolean): void {
  held += line + "\n";
  if (urgent || held.length >= HELD_CHARS) return flushLog();
  if (heldTimer === undefined) {
    heldTimer = setTimeout(flushLog, HELD_MS);
    Deno.unrefTimer(heldTimer);
  }
}

/**
 * A logger of structured lines. The process has one, `log`; libraries and
 * tests may make their own with another `write`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Logger } from "./log.ts";
 * const lines: string[] = [];
 * const log = new Logger({ level: "info", format: "json", write: (l) => lines.push(l) });
 * log.info("request", { method: "GET", status: 200, dataset: undefined });
 * log.debug("dropped");
 * assert.equal(lines.length, 1);
 * const line = JSON.parse(lines[0]!);
 * assert.deepEqual([line.level, line.event, line.status, "dataset" in line], ["info", "request", 200, false]);
 * ```
 */
export class Logger {
  #rank = RANK.warn;
  #format: LogFormat = "text";
  /** Where lines go; undefined: standard error, through the held lines. */
  #write: ((line: string) => void) | undefined;

  /** Creates a logger (level `warn`, text, standard error unless given). */
  constructor(options: LogOptions = {}) {
    this.configure(options);
  }

  /**
   * Changes the level, the format or where lines go; what is not given stays.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Logger } from "./log.ts";
   * const log = new Logger({ write: () => {} });
   * assert.equal(log.enabled("info"), false);
   * log.configure({ level: "debug" });
   * assert.equal(log.enabled("debug"), true);
   * ```
   */
  configure(options: LogOptions): void {
    if (options.level !== undefined) {
      if (!(options.level in RANK)) {
        throw new RangeError(
          `Invalid log level '${options.level}': expected one of ${LOG_LEVELS.join(", ")}`,
        );
      }
      this.#rank = RANK[options.level];
    }
    if (options.format !== undefined) {
      if (options.format !== "text" && options.format !== "json") {
        throw new RangeError(`Invalid log format '${options.format}': expected text or json`);
      }
      this.#format = options.format;
    }
    if (options.write !== undefined) this.#write = options.write;
  }

  /**
   * Whether lines of `level` are written: a caller can skip building fields.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Logger } from "./log.ts";
   * assert.equal(new Logger({ level: "error" }).enabled("warn"), false);
   * ```
   */
  enabled(level: LogLevel): boolean {
    return RANK[level] >= this.#rank;
  }

  /**
   * Writes a debug line.
   *
   * @example
   * ```ts
   * import { Logger } from "./log.ts";
   * new Logger({ level: "debug", write: console.log }).debug("plan cached", { entries: 3 });
   * ```
   */
  debug(event: string, fields?: LogFields): void {
    this.write("debug", event, fields);
  }

  /**
   * Writes an info line.
   *
   * @example
   * ```ts
   * import { Logger } from "./log.ts";
   * new Logger({ level: "info", write: console.log }).info("listening", { port: 7070 });
   * ```
   */
  info(event: string, fields?: LogFields): void {
    this.write("info", event, fields);
  }

  /**
   * Writes a warning line.
   *
   * @example
   * ```ts
   * import { Logger } from "./log.ts";
   * new Logger({ write: console.log }).warn("lease lapsed", { node: "b" });
   * ```
   */
  warn(event: string, fields?: LogFields): void {
    this.write("warn", event, fields);
  }

  /**
   * Writes an error line.
   *
   * @example
   * ```ts
   * import { Logger } from "./log.ts";
   * new Logger({ write: console.log }).error("pipeline run failed", { error: "Boom" });
   * ```
   */
  error(event: string, fields?: LogFields): void {
    this.write("error", event, fields);
  }

  /**
   * Writes a line of `level` when the level is enabled.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Logger } from "./log.ts";
   * const lines: string[] = [];
   * new Logger({ write: (l) => lines.push(l) }).write("warn", "spill", { from: "memory", to: "file" });
   * assert.match(lines[0]!, /^\S+Z WARN spill from=memory to=file$/);
   * ```
   */
  write(level: LogLevel, event: string, fields?: LogFields): void {
    if (RANK[level] < this.#rank) return;
    const line = this.#format === "json"
      ? jsonLine(level, event, fields)
      : textLine(level, event, fields);
    if (this.#write === undefined) toStderr(line, RANK[level] >= RANK.warn);
    else this.#write(line);
  }
}

function jsonLine(level: LogLevel, event: string, fields: LogFields | undefined): string {
  const out: Record<string, unknown> = { time: now(), level, event };
  for (const k in fields) if (fields[k] !== undefined) out[k] = fields[k];
  return JSON.stringify(out);
}

/** The time of the last line, and its text: lines of the same millisecond share it. */
let stampMs = -1;
let stamp = "";

/** The current time as ISO 8601 text, made once per millisecond. */
function now(): string {
  const ms = Date.now();
  if (ms !== stampMs) {
    stampMs = ms;
    stamp = new Date(ms).toISOString();
  }
  return stamp;
}

const UPPER: Record<LogLevel, string> = {
  debug: "DEBUG",
  info: "INFO",
  warn: "WARN",
  error: "ERROR",
};

function textLine(level: LogLevel, event: string, fields: LogFields | undefined): string {
  let line = `${now()} ${UPPER[level]} ${event}`;
  for (const k in fields) {
    const v = fields[k];
    if (v === undefined) continue;
    const s = String(v);
    line += ` ${k}=${/^[^\s"=]+$/.test(s) ? s : JSON.stringify(s)}`;
  }
  return line;
}

/**
 * The process's log. Quiet (`warn`) until the process configures it from
 * its config and flags (`strata serve` says `info`).
 *
 * @example
 * ```ts
 * import { log } from "./log.ts";
 * log.warn("connection refused", { peer: "127.0.0.1:9" });
 * ```
 */
export const log: Logger = new Logger();
