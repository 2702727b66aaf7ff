/**
 * The program of a sandbox process: `deno run` with no permissions at all
 * runs it, one process per function version (see launcher.ts). It reads
 * requests as frames on standard input (frames.ts), loads the function's
 * module from its source, runs calls one at a time and writes each reply as
 * a frame on standard output. Isolation does not rest on this code: the
 * process has no permissions, its memory is limited by the OS, and the
 * service kills it past a call's time limit. This code only captures logs
 * and shapes replies.
 *
 * @module
 */

import { encodeHead, layoutArrays, packArrays, TYPED_ARRAYS } from "./frames.ts";
import { FrameReader } from "./_frame_reader.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

interface Field {
  name: string;
  aliases: string[];
  type: string;
  offset: number;
  length: number;
  shape: number[];
}
interface Call {
  fields: Field[];
  base: number;
  ctx: Record<string, unknown>;
}
interface ErrorInfo {
  name: string;
  message: string;
  limit?: "output";
}

const stdin = Deno.stdin;
const stdout = Deno.stdout;
const { stringify, parse } = JSON;
const isView = ArrayBuffer.isView;
// Typed array constructors by numeric type name, from the load request's
// table (fields.ts' ARRAY_OF_TYPE) and frames.ts' constructors, taken
// before any function runs.
const TYPED: Record<string, Any> = {};

let outputLimit = Number.POSITIVE_INFINITY;
let logs: string[] = [];
let logBytes = 0;
const MAX_LOG_LINES = 100;
const MAX_LOG_BYTES = 16 * 1024;

function text(v: unknown): string {
  if (typeof v === "string") return v;
  try {
    return stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}
function log(values: unknown[]): void {
  if (logs.length >= MAX_LOG_LINES || logBytes >= MAX_LOG_BYTES) return;
  const line = values.map(text).join(" ").slice(0, 1024);
  logs.push(line);
  logBytes += line.length;
}
// Standard output carries frames: the console writes to the call's logs.
for (const level of ["log", "info", "warn", "error", "debug", "trace"]) {
  (console as Any)[level] = (...values: unknown[]) => log(values);
}
globalThis.addEventListener("unhandledrejection", (e) => {
  e.preventDefault();
  log([`Unhandled rejection: ${text((e.reason as Any)?.message ?? e.reason)}`]);
});
globalThis.addEventListener("error", (e) => {
  e.preventDefault();
  log([`Uncaught error: ${text(e.message)}`]);
});

async function writeAll(bytes: Uint8Array): Promise<void> {
  let at = 0;
  while (at < bytes.length) at += await stdout.write(bytes.subarray(at));
}

/** Replies up to this size leave in one write: one system call, one async op. */
const ONE_WRITE_BYTES = 64 * 1024;

async function reply(header: Record<string, unknown>, payload?: Uint8Array): Promise<void> {
  const head = encodeHead(header, payload?.byteLength ?? 0);
  if (payload === undefined || payload.byteLength === 0) return await writeAll(head);
  if (head.byteLength + payload.byteLength <= ONE_WRITE_BYTES) {
    const one = new Uint8Array(head.byteLength + payload.byteLength);
    one.set(head);
    one.set(payload, head.byteLength);
    return await writeAll(one);
  }
  await writeAll(head);
  await writeAll(payload);
}

const PADDING = new Uint8Array(8);

/**
 * Replies with typed arrays as the payload: small ones packed into one
 * write, large ones written as they are, each followed by its padding, so
 * an output fragment is not copied once more on its way out.
 */
async function replyArrays(
  header: Record<string, unknown>,
  out: Record<string, ArrayBufferView>,
): Promise<void> {
  const { entries, bytes } = layoutArrays(out);
  if (bytes <= ONE_WRITE_BYTES) {
    return await reply({ ...header, arrays: entries }, packArrays(out).payload);
  }
  await writeAll(encodeHead({ ...header, arrays: entries }, bytes));
  for (const a of Object.values(out)) {
    await writeAll(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
    const pad = ((a.byteLength + 7) & ~7) - a.byteLength;
    if (pad > 0) await writeAll(PADDING.subarray(0, pad));
  }
}

function errorOf(e: Any): ErrorInfo {
  if (e !== null && typeof e === "object" && e.limit === "output") {
    return { name: "RangeError", message: String(e.message), limit: "output" };
  }
  const name = typeof e?.name === "string" ? e.name : "Error";
  const message = typeof e?.message === "string" ? e.message : text(e);
  return { name, message };
}

function json(v: unknown): string {
  const out = stringify(v, (_k, x) => {
    if (typeof x === "bigint") return Number(x);
    if (isView(x) && !(x instanceof DataView)) {
      return Array.from(x as Any, (e: Any) => typeof e === "bigint" ? Number(e) : e);
    }
    return x;
  });
  if (out === undefined) {
    throw new TypeError("run() returned nothing JSON can hold: return a value, or null");
  }
  if (out.length > outputLimit) {
    throw {
      limit: "output",
      message: `the result takes ${out.length} bytes of JSON, over the limit of ${outputLimit}`,
    };
  }
  return out;
}

function arrays(v: unknown): Record<string, ArrayBufferView> {
  if (typeof v !== "object" || v === null || isView(v) || Array.isArray(v)) {
    throw new TypeError("run() must return an object of typed arrays, one per output field");
  }
  let total = 0;
  const out: Record<string, ArrayBufferView> = {};
  for (const [k, a] of Object.entries(v)) {
    if (!isView(a) || a instanceof DataView) {
      throw new TypeError(`Output field '${k}' must be a typed array`);
    }
    total += a.byteLength;
    out[k] = a;
  }
  if (total > outputLimit) {
    throw {
      limit: "output",
      message: `the result takes ${total} bytes, over the limit of ${outputLimit}`,
    };
  }
  return out;
}

let mod: Any;

async function runOne(buffer: ArrayBuffer, call: Call): Promise<unknown> {
  const input: Record<string, unknown> = {};
  const shapes: Record<string, number[]> = {};
  for (const f of call.fields) {
    const view = new TYPED[f.type](buffer, call.base + f.offset, f.length);
    input[f.name] = view;
    shapes[f.name] = f.shape;
    for (const a of f.aliases) {
      input[a] = view;
      shapes[a] = f.shape;
    }
  }
  const ctx = Object.freeze({
    ...call.ctx,
    shapes: Object.freeze(shapes),
    log: (...values: unknown[]) => log(values),
  });
  const result = mod.run(input, ctx);
  return result !== null && typeof result === "object" && typeof result.then === "function"
    ? await result
    : result;
}

function begin(): void {
  logs = [];
  logBytes = 0;
}

async function handle(m: Any, payload: Uint8Array): Promise<void> {
  const id = m.id;
  begin();
  try {
    switch (m.t) {
      case "load": {
        outputLimit = m.limits.outputBytes;
        for (const [type, name] of Object.entries(m.types as Record<string, string>)) {
          TYPED[type] = TYPED_ARRAYS[name];
        }
        mod = await import("data:application/typescript," + encodeURIComponent(m.source));
        const plain = (v: unknown) => {
          try {
            return v === undefined ? undefined : parse(stringify(v) ?? "null");
          } catch {
            return `<${typeof v}>`;
          }
        };
        const exports = {
          input: plain(mod.input),
          output: plain(mod.output),
          sample: plain(mod.sample),
          run: typeof mod.run,
          merge: typeof mod.merge,
        };
        await reply({ id, t: "loaded", exports, logs });
        return;
      }
      case "run": {
        const result = await runOne(payload.buffer as ArrayBuffer, m.call);
        if (m.output === "arrays") {
          await replyArrays({ id, t: "done", logs }, arrays(result));
        } else {
          await reply({ id, t: "done", json: json(result), logs });
        }
        return;
      }
      case "batch": {
        const results: unknown[] = [];
        for (const call of m.calls as Call[]) {
          begin();
          try {
            results.push({ json: json(await runOne(payload.buffer as ArrayBuffer, call)) });
          } catch (e) {
            results.push({ error: errorOf(e) });
          }
        }
        await reply({ id, t: "done", results, logs });
        return;
      }
      case "reduce": {
        let acc = parse(m.values[0]);
        for (let i = 1; i < m.values.length; i++) {
          acc = mod.merge(acc, parse(m.values[i]));
          if (acc !== null && typeof acc === "object" && typeof acc.then === "function") {
            acc = await acc;
          }
        }
        await reply({ id, t: "done", json: json(acc), logs });
        return;
      }
      default:
        await reply({ id, t: "error", error: { name: "TypeError", message: "unknown request" } });
    }
  } catch (e) {
    await reply({ id, t: "error", error: errorOf(e), logs });
  }
}

// A first dynamic import sets up the module loader (several ms): done
// before the process says it is up, so a spare loads its function fast.
await import("data:application/typescript,export%20const%20warm%3A%20number%20%3D%201%3B");
// So do the frame reader and the request path the first time they run
// (about a millisecond of a first load): run them once on a frame of our own.
{
  const warm = FrameReader.fromStream(
    new Blob([encodeHead({ t: "warm" }, 8), new Uint8Array(8)]).stream(),
  );
  const frame = await warm.next(1024, 1024);
  parse(frame!.header);
  json({ warm: [1, 2] });
  packArrays({ warm: new Float64Array(1) });
}
await reply({ id: 0, t: "ready" });
// A call awaiting a promise that never settles leaves nothing else pending
// while the loop below waits for it: this timer keeps the process alive, so
// such a call meets its time limit rather than ending the process.
setInterval(() => {}, 2 ** 30);

// Requests come from the service, which frames them: no bound needed
// beyond what fits in memory, which the OS limits.
const requests = new FrameReader((into) => stdin.read(into));
for (;;) {
  const frame = await requests.next(2 ** 32, 2 ** 32);
  if (frame === null) break;
  await handle(parse(frame.header), frame.payload);
}
// The service closed our standard input, or died: nobody will ask again.
// The timer that keeps a waiting call alive would keep the process too.
Deno.exit(0);
