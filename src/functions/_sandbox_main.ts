// deno-lint-ignore-file no-explicit-any
/**
 * The code every function Worker runs before a function's module: it guards
 * allocations against the memory limit, captures logs, loads the module from
 * its source and answers the host's requests. It becomes the Worker's source
 * through `Function.prototype.toString`, so it refers to nothing outside its
 * own body. The Worker has no permissions at all and a V8 heap limit (see
 * relay.ts); these guards add the limit on array buffers, which live outside
 * the heap, and the output limit.
 *
 * @module
 */

/**
 * Runs inside the Worker: installs the guards and the request handler on
 * `port` (the host's channel) and answers the relay's pings on `pings`.
 * `heapLimit` reads V8's current heap limit; `ARRAY_OF_TYPE` is fields.ts'
 * map of numeric types to typed array names, passed in as the body refers
 * to nothing outside itself.
 */
export function sandboxMain(
  port: any,
  pings: any,
  heapLimit: () => number,
  ARRAY_OF_TYPE: Readonly<Record<string, string>>,
): void {
  type Any = any;
  const g = globalThis as Any;
  const post: (message: unknown, transfer?: Transferable[]) => void = port.postMessage.bind(port);
  const memoryUsage: () => { heapUsed: number; external: number } = g.Deno.memoryUsage;
  const { stringify, parse } = JSON;
  const arrayFrom = Array.from;
  const isView = ArrayBuffer.isView;
  const OrigArrayBuffer = ArrayBuffer;
  const define = Object.defineProperty;
  const reflectConstruct = Reflect.construct;
  const reflectApply = Reflect.apply;
  // When a call reaches the heap limit, V8 stops it and raises the limit to
  // unwind; the Worker lives on, but that call never answers. A watch
  // during each call, and the answer to the relay's pings, report it.
  const initialHeapLimit = heapLimit();
  const outOfHeap = () => heapLimit() > initialHeapLimit;
  pings.onmessage = () => pings.postMessage(outOfHeap() ? "out-of-heap" : "pong");
  // One watch for the Worker's life, looking only while a call is under
  // way: cheaper per call than a timer of its own.
  let busy = false;
  const watch = setInterval(() => {
    if (!busy || !outOfHeap()) return;
    busy = false;
    clearInterval(watch);
    post({ t: "out-of-heap" });
  }, 20);

  let memoryLimit = Number.POSITIVE_INFINITY;
  let outputLimit = Number.POSITIVE_INFINITY;
  let violation: string | undefined;
  let unchecked = 0;
  let logs: string[] = [];
  let logBytes = 0;
  const MAX_LOG_LINES = 100;
  const MAX_LOG_BYTES = 16 * 1024;

  // Allocations below 64 KiB add up and are checked every MiB; larger ones
  // are checked one by one against the Worker's heap and external memory.
  function reserve(bytes: number, what: string): void {
    if (!(bytes > 0)) return;
    if (bytes < 65536) {
      unchecked += bytes;
      if (unchecked < 1048576) return;
      bytes = unchecked;
    }
    unchecked = 0;
    const u = memoryUsage();
    const after = u.heapUsed + u.external + bytes;
    if (after > memoryLimit) {
      const detail =
        `${what} of ${bytes} bytes would bring the Worker to ${after} bytes, over its limit of ${memoryLimit}`;
      violation ??= detail;
      throw new RangeError(`Memory limit: ${detail}`);
    }
  }

  function lock(target: object, key: string | symbol, value: unknown): void {
    define(target, key, { value, writable: false, configurable: false, enumerable: false });
  }

  // Built-in prototypes keep their properties' attributes: a non-writable
  // property on a typed array prototype made element loads five times
  // slower in V8 (measured with functions/histogram.ts). The originals stay
  // out of reach either way: only the replacements are referenced.
  function replace(proto: object, key: string, value: unknown): void {
    define(proto, key, { value, writable: true, configurable: true, enumerable: false });
  }

  const TYPED = [
    "Int8Array",
    "Uint8Array",
    "Uint8ClampedArray",
    "Int16Array",
    "Uint16Array",
    "Int32Array",
    "Uint32Array",
    "Float16Array",
    "Float32Array",
    "Float64Array",
    "BigInt64Array",
    "BigUint64Array",
  ];
  const original: Record<string, Any> = {};
  for (const name of TYPED) {
    const Ctor = g[name];
    if (typeof Ctor !== "function") continue;
    original[name] = Ctor;
    const size: number = Ctor.BYTES_PER_ELEMENT;
    const guarded: Any = new Proxy(Ctor, {
      construct(target, args, newTarget) {
        const a = args[0];
        let n = 0;
        if (typeof a === "number") n = a * size;
        else if (typeof a === "object" && a !== null && !(a instanceof OrigArrayBuffer)) {
          const length = a.length;
          if (typeof length === "number") n = length * size;
        }
        reserve(n, `new ${name}`);
        return reflectConstruct(target, args, newTarget === guarded ? target : newTarget);
      },
    });
    // Species constructors (slice, map, subarray copies) and `from`/`of`
    // reach the constructor through the prototype: point it at the guard.
    replace(Ctor.prototype, "constructor", guarded);
    lock(g, name, guarded);
  }
  const guardedBuffer: Any = new Proxy(OrigArrayBuffer, {
    construct(target, args, newTarget) {
      const max = typeof args[1] === "object" && args[1] !== null
        ? Number(args[1].maxByteLength)
        : 0;
      reserve(Math.max(Number(args[0]) || 0, max || 0), "new ArrayBuffer");
      return reflectConstruct(target, args, newTarget === guardedBuffer ? target : newTarget);
    },
  });
  const bufferProto: Any = OrigArrayBuffer.prototype;
  for (const method of ["resize", "transfer", "transferToFixedLength"]) {
    const fn = bufferProto[method];
    if (typeof fn !== "function") continue;
    replace(bufferProto, method, function (this: ArrayBuffer, ...args: Any[]) {
      if (typeof args[0] === "number") {
        reserve(args[0] - this.byteLength, `ArrayBuffer.prototype.${method}`);
      }
      return reflectApply(fn, this, args);
    });
  }
  replace(bufferProto, "constructor", guardedBuffer);
  lock(g, "ArrayBuffer", guardedBuffer);
  const stringProto: Any = String.prototype;
  const repeat = stringProto.repeat;
  replace(stringProto, "repeat", function (this: string, count: number) {
    reserve(String(this).length * Number(count), "String.prototype.repeat");
    return reflectApply(repeat, this, [count]);
  });
  for (const method of ["padStart", "padEnd"]) {
    const fn = stringProto[method];
    replace(stringProto, method, function (this: string, ...args: Any[]) {
      reserve(Number(args[0]) - String(this).length, `String.prototype.${method}`);
      return reflectApply(fn, this, args);
    });
  }
  const clone = g.structuredClone;
  lock(g, "structuredClone", (value: Any, options?: Any) => {
    if (value instanceof OrigArrayBuffer) reserve(value.byteLength, "structuredClone");
    else if (isView(value)) reserve(value.buffer.byteLength, "structuredClone");
    return clone(value, options);
  });
  // Nothing a function needs, each a way around the guards or the sandbox:
  // memories grown by WebAssembly, shared buffers, Workers of its own, code
  // from strings (whose dynamic imports would skip the deploy-time check),
  // storage that persists or is shared without any permission (KV, caches,
  // broadcast channels), the process's standard streams and signals, and
  // the Node globals of a `node:worker_threads` Worker (`require` reaches
  // built-in modules, `Buffer` allocates past the array buffer guard).
  const denied = (what: string) => () => {
    throw new TypeError(`${what} is not available to functions`);
  };
  const noFunction: Any = new Proxy(Function, {
    apply: denied("Function"),
    construct: denied("Function"),
  });
  for (
    const proto of [
      Function.prototype,
      Object.getPrototypeOf(async function () {}),
      Object.getPrototypeOf(function* () {}),
      Object.getPrototypeOf(async function* () {}),
    ]
  ) {
    replace(proto, "constructor", noFunction);
  }
  lock(g, "Function", noFunction);
  lock(g, "eval", denied("eval"));
  const deno = g.Deno;
  for (
    const name of [
      "openKv",
      "Kv",
      "AtomicOperation",
      "KvListIterator",
      "KvU64",
      "cwd",
      "execPath",
      "args",
      "pid",
      "ppid",
      "stdin",
      "stdout",
      "stderr",
      "isatty",
      "consoleSize",
      "addSignalListener",
      "removeSignalListener",
      "exit",
      "internal",
      "telemetry",
    ]
  ) {
    if (name in deno) {
      define(deno, name, { get: denied(`Deno.${name}`), configurable: false, enumerable: false });
    }
  }
  for (
    const name of [
      "WebAssembly",
      "SharedArrayBuffer",
      "Worker",
      "caches",
      "BroadcastChannel",
      "localStorage",
      "sessionStorage",
      "process",
      "Buffer",
      "require",
      "nodeBootstrap",
    ]
  ) {
    try {
      delete g[name];
    } catch {
      // Not configurable: shadowed below.
    }
    if (name in g) lock(g, name, undefined);
  }
  lock(g, "postMessage", () => {
    throw new TypeError("postMessage is not available to functions: return a result");
  });
  lock(g, "close", () => {
    throw new TypeError("close is not available to functions");
  });

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
  for (const level of ["log", "info", "warn", "error", "debug", "trace"]) {
    g.console[level] = (...values: unknown[]) => log(values);
  }
  g.addEventListener("unhandledrejection", (e: Any) => {
    e.preventDefault();
    log([`Unhandled rejection: ${text(e.reason?.message ?? e.reason)}`]);
  });
  g.addEventListener("error", (e: Any) => {
    e.preventDefault();
    log([`Uncaught error: ${text(e.message)}`]);
  });

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

  let mod: Any;

  function errorOf(e: Any): { name: string; message: string; limit?: string } {
    if (violation !== undefined) return { name: "RangeError", message: violation, limit: "memory" };
    const name = typeof e?.name === "string" ? e.name : "Error";
    const message = typeof e?.message === "string" ? e.message : text(e);
    return { name, message };
  }

  function json(v: unknown): string {
    const out = stringify(v, (_k, x) => {
      if (typeof x === "bigint") return Number(x);
      if (isView(x) && !(x instanceof DataView)) {
        return arrayFrom(x as Any, (e: Any) => typeof e === "bigint" ? Number(e) : e);
      }
      return x;
    });
    if (out === undefined) {
      throw new TypeError("run() returned nothing JSON can hold: return a value, or null");
    }
    if (out.length > outputLimit) {
      throw {
        name: "RangeError",
        limit: "output",
        message: `the result takes ${out.length} bytes of JSON, over the limit of ${outputLimit}`,
      };
    }
    return out;
  }

  function arrays(v: unknown): { arrays: Record<string, unknown>; transfer: ArrayBuffer[] } {
    if (typeof v !== "object" || v === null || isView(v) || Array.isArray(v)) {
      throw new TypeError("run() must return an object of typed arrays, one per output field");
    }
    const out: Record<string, unknown> = {};
    const transfer: ArrayBuffer[] = [];
    let total = 0;
    for (const [k, a] of Object.entries(v)) {
      if (!isView(a) || a instanceof DataView) {
        throw new TypeError(`Output field '${k}' must be a typed array`);
      }
      total += a.byteLength;
      const whole = a.byteOffset === 0 && a.byteLength === a.buffer.byteLength &&
        a.buffer instanceof OrigArrayBuffer && !transfer.includes(a.buffer);
      const own: Any = whole ? a : (a as Any).slice();
      transfer.push(own.buffer);
      out[k] = own;
    }
    if (total > outputLimit) {
      throw {
        name: "RangeError",
        limit: "output",
        message: `the result takes ${total} bytes, over the limit of ${outputLimit}`,
      };
    }
    return { arrays: out, transfer };
  }

  async function runOne(buffer: ArrayBuffer, call: Call): Promise<unknown> {
    const input: Record<string, unknown> = {};
    const shapes: Record<string, number[]> = {};
    for (const f of call.fields) {
      const view = new original[ARRAY_OF_TYPE[f.type]!](buffer, call.base + f.offset, f.length);
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
    violation = undefined;
    unchecked = 0;
    logs = [];
    logBytes = 0;
  }

  function check(): void {
    if (violation !== undefined) throw new RangeError(violation);
  }

  async function handle(m: Any): Promise<void> {
    begin();
    busy = true;
    try {
      switch (m.t) {
        case "load": {
          memoryLimit = m.limits.memoryBytes;
          outputLimit = m.limits.outputBytes;
          mod = await import("data:application/typescript," + encodeURIComponent(m.source));
          check();
          const plain = (v: unknown) => {
            try {
              return v === undefined ? undefined : parse(stringify(v) ?? "null");
            } catch {
              return `<${typeof v}>`;
            }
          };
          post({
            t: "loaded",
            exports: {
              input: plain(mod.input),
              output: plain(mod.output),
              sample: plain(mod.sample),
              run: typeof mod.run,
              merge: typeof mod.merge,
            },
            logs,
          });
          return;
        }
        case "run": {
          const result = await runOne(m.buffer, m.call);
          check();
          if (m.output === "arrays") {
            const { arrays: out, transfer } = arrays(result);
            post({ t: "done", arrays: out, logs }, transfer);
          } else {
            post({ t: "done", json: json(result), logs });
          }
          return;
        }
        case "batch": {
          const results: unknown[] = [];
          for (const call of m.calls as Call[]) {
            begin();
            try {
              const r = await runOne(m.buffer, call);
              check();
              results.push({ json: json(r) });
            } catch (e) {
              results.push({ error: errorOf(e) });
            }
          }
          post({ t: "done", results, logs });
          return;
        }
        case "reduce": {
          let acc = parse(m.values[0]);
          for (let i = 1; i < m.values.length; i++) {
            acc = mod.merge(acc, parse(m.values[i]));
            if (acc !== null && typeof acc === "object" && typeof acc.then === "function") {
              acc = await acc;
            }
            check();
          }
          post({ t: "done", json: json(acc), logs });
          return;
        }
      }
    } catch (e) {
      const error = e !== null && typeof e === "object" && "limit" in e
        ? e as { name: string; message: string; limit: string }
        : errorOf(e);
      post({ t: "error", error, logs });
    } finally {
      busy = false;
    }
  }

  port.onmessage = (e: Any) => {
    handle(e.data);
  };
  // A Worker's first dynamic import sets up its module loader (several ms
  // here): done before the Worker says it is up, so a spare Worker loads
  // its function in about a millisecond.
  import("data:application/typescript,export%20const%20warm%3A%20number%20%3D%201%3B").then(
    () => post({ t: "ready" }),
    () => post({ t: "ready" }),
  );
}
