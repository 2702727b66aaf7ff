/**
 * The escape corpus: hostile functions, one attack per step, each run while
 * another function's calls go on. Every attack is refused by Deno's
 * permission checks (the sandbox process has none) or stopped by a limit
 * (the OS memory limit, V8's heap limit, the time limit, the output limit);
 * afterwards the service still answers, the hostile function still works,
 * and the other function's concurrent calls returned the right results.
 */
import assert from "node:assert/strict";
import { FunctionFailedError, LimitExceededError, type StrataError } from "../src/errors.ts";
import { type Harness, withFunctions } from "./_functions.ts";

// A function that behaves during its dry run and then, on request, attacks
// its sandbox: `ctx.args.attempt` names the attack, `ctx.args.target`
// carries what it needs (the service's pid, a port, a path).
const SNEAKY = `
import type { FunctionContext } from "strata/function";
export const input = "dataset { var x [4]float64 }\\nfragment all { var x = x }";
export const output = "value";
// deno-lint-ignore no-explicit-any
const g = globalThis as any;
const D = Deno as any;
const fill = (n: number) => { const a = new Uint8Array(n); for (let i = 0; i < n; i += 4096) a[i] = 1; return a; };
const kept: unknown[] = [];
// The deploy-time check refuses dynamic imports as a convenience; isolation does
// not rest on it, and a comment slips past it.
const load = (specifier: string): Promise<any> => import/**/(specifier);
export async function run(_input: { x: Float64Array }, ctx: FunctionContext): Promise<unknown> {
  const { attempt, target } = (ctx.args ?? {}) as { attempt?: string; target?: any };
  if (ctx.dryRun) return 0;
  switch (attempt) {
    // Signals
    case "kill-service": return Deno.kill(target, "SIGKILL");
    case "kill-sweep": {
      let done = 0;
      for (let pid = 2; pid < 32768; pid++) {
        if (pid === Deno.pid) continue;
        try { Deno.kill(pid, "SIGKILL"); done++; } catch { /* refused */ }
      }
      return done;
    }
    case "kill-group": return Deno.kill(0, "SIGKILL");
    case "kill-everyone": return Deno.kill(-1, "SIGKILL");
    case "kill-parent": return Deno.kill(Deno.ppid, "SIGTERM");
    case "kill-self": Deno.kill(Deno.pid, "SIGKILL"); return await new Promise(() => {});
    case "node-process-kill": { const p = await load("node:process"); return p.default.kill(target, "SIGKILL"); }
    case "exit": return Deno.exit(3);
    case "abort": { const p = await load("node:process"); return p.default.abort(); }
    // Deno internals and code from strings
    case "internal-evalContext": {
      const key = Object.getOwnPropertySymbols(Deno).find((s) => String(s).includes("internal"));
      const core = key === undefined ? g.Deno.core : D[key]?.core;
      const [result, error] = core.evalContext("Deno.readTextFileSync('/etc/passwd')", "file:///x.js");
      if (error) throw new Error(String(error.thrown ?? error));
      return result;
    }
    case "internal-ops": {
      const key = Object.getOwnPropertySymbols(Deno).find((s) => String(s).includes("internal"));
      const core = key === undefined ? undefined : D[key]?.core;
      if (core === undefined) throw new Error("no core");
      return core.ops.op_fs_read_file_text_sync("/etc/passwd");
    }
    case "eval-read": return (0, eval)("Deno.readTextFileSync('/etc/passwd')");
    case "function-net": return await new Function("p", "return fetch('http://127.0.0.1:' + p + '/').then((r) => r.status)")(target);
    case "import-data": return (await load("data:application/javascript,export default Deno.readTextFileSync('/etc/passwd')")).default;
    case "import-blob": {
      const url = URL.createObjectURL(new Blob(["export default Deno.readTextFileSync('/etc/passwd')"], { type: "application/javascript" }));
      return (await load(url)).default;
    }
    case "import-http": return await load("http://127.0.0.1:" + target + "/x.ts");
    case "import-https": return await load(["https:", "", "example.com", "x.ts"].join("/"));
    case "import-file": return await load("file:///etc/passwd");
    case "import-kv-file": return await load("file://" + target);
    case "node-vm": { const vm = await load("node:vm"); return vm.runInNewContext("this.constructor.constructor('return Deno')().readTextFileSync('/etc/passwd')"); }
    case "node-worker-threads": {
      const { Worker } = await load("node:worker_threads");
      return await new Promise((resolve, reject) => {
        const w = new Worker("const { parentPort } = require('node:worker_threads'); parentPort.postMessage(require('node:fs').readFileSync('/etc/passwd', 'utf8'));", { eval: true });
        w.on("message", (m: unknown) => { w.terminate(); resolve(m); });
        w.on("error", reject);
      });
    }
    case "web-worker": {
      const w = new Worker("data:application/javascript,postMessage(Deno.readTextFileSync('/etc/passwd'))", { type: "module" });
      return await new Promise((resolve, reject) => { w.onmessage = (e) => { w.terminate(); resolve(e.data); }; w.onerror = (e) => { e.preventDefault(); w.terminate(); reject(new Error(e.message)); }; });
    }
    case "node-child-process": { const cp = await load("node:child_process"); return String(cp.execSync("id")); }
    case "node-fs": { const fs = await load("node:fs"); return fs.readFileSync("/etc/passwd", "utf8"); }
    case "node-fs-write": { const fs = await load("node:fs"); fs.writeFileSync("tmp/escaped.txt", "out"); return "written"; }
    case "node-net": {
      const net = await load("node:net");
      return await new Promise((resolve, reject) => { const s = net.connect(target, "127.0.0.1", () => resolve("connected")); s.on("error", reject); });
    }
    case "node-os": { const os = await load("node:os"); return os.hostname() + os.userInfo().username; }
    case "process-env": { const p = await load("node:process"); return p.default.env.HOME ?? Object.keys(p.default.env).length; }
    // Files, environment, system
    case "read": return Deno.readTextFileSync("/etc/passwd");
    case "read-kv": return Deno.readFileSync(target).length;
    case "write": Deno.writeTextFileSync("tmp/escaped.txt", "out"); return "written";
    case "read-dir": return [...Deno.readDirSync("/")].length;
    case "cwd": return Deno.cwd();
    case "exec-path": return Deno.execPath();
    case "proc-environ": return Deno.readTextFileSync("/proc/self/environ");
    case "proc-mem-other": return Deno.readFileSync("/proc/" + target + "/mem").length;
    case "temp-file": return Deno.makeTempFileSync();
    case "open-kv": return String(await Deno.openKv());
    case "env": return Deno.env.get("HOME");
    case "env-all": return Object.keys(Deno.env.toObject()).length;
    case "sys-hostname": return Deno.hostname();
    case "sys-memory": return Deno.systemMemoryInfo().total;
    case "sys-interfaces": return Deno.networkInterfaces().length;
    // Network
    case "fetch": return (await fetch("http://127.0.0.1:" + target + "/")).status;
    case "connect": { const c = await Deno.connect({ hostname: "127.0.0.1", port: target }); c.close(); return "connected"; }
    case "listen": { const l = Deno.listen({ hostname: "127.0.0.1", port: 0 }); l.close(); return "listening"; }
    case "udp": { const l = D.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" }); l.close(); return "bound"; }
    case "unix-socket": { const c = await Deno.connect({ transport: "unix", path: target }); c.close(); return "connected"; }
    case "websocket": {
      return await new Promise((resolve, reject) => { const ws = new WebSocket("ws://127.0.0.1:" + target + "/"); ws.onopen = () => resolve("open"); ws.onerror = () => reject(new Error("websocket refused")); });
    }
    case "dns": return await Deno.resolveDns("localhost", "A");
    // Subprocesses and FFI
    case "command": return new Deno.Command("id").outputSync().code;
    case "ffi": return String(Deno.dlopen("libc.so.6", {}));
    // Memory, by every path
    case "array-buffer-4GiB": return fill(4 * 2 ** 30).length;
    case "typed-arrays": for (;;) kept.push(fill(8 << 20));
    case "text-encoder": { const e = new TextEncoder(); const s = "x".repeat(1 << 20); for (;;) kept.push(e.encode(s)); }
    case "message-channel": { const c = new MessageChannel(); for (;;) c.port1.postMessage(fill(1 << 20)); }
    case "wasm-memory": { const m = new WebAssembly.Memory({ initial: 1, maximum: 65536 }); for (;;) { m.grow(160); new Uint8Array(m.buffer).fill(1); } }
    case "decompression-bomb": {
      const zeros = new Blob([new Uint8Array(64 << 20)]).stream().pipeThrough(new CompressionStream("gzip"));
      const bomb = new Uint8Array(await new Response(zeros).arrayBuffer());
      for (;;) kept.push(new Uint8Array(await new Response(new Blob([bomb]).stream().pipeThrough(new DecompressionStream("gzip"))).arrayBuffer()));
    }
    case "blob": for (;;) kept.push(new Blob([fill(8 << 20)]));
    case "strings": { let s = "x"; for (;;) { s = s + s; kept.push(s.slice(1)); } }
    case "objects": for (let i = 0; ; i++) kept.push({ i, s: "x" + i, a: [i, i] });
    case "worker-memory": {
      const w = new Worker("data:application/javascript," + encodeURIComponent("const k = []; for (;;) { const a = new Uint8Array(8 << 20); a.fill(1); k.push(a); }"), { type: "module" });
      kept.push(w);
      return await new Promise(() => {});
    }
    case "structured-clone": { const a = fill(16 << 20); for (;;) kept.push(structuredClone(a)); }
    // Time
    case "loop": for (;;) { /* spin */ }
    case "microtasks": { const spin = (): Promise<void> => Promise.resolve().then(spin); await spin(); return 1; }
    case "never": return await new Promise(() => {});
    case "atomics-wait": { const i = new Int32Array(new SharedArrayBuffer(4)); return Atomics.wait(i, 0, 0); }
    // The reply channel
    case "forge-reply": {
      const json = new TextEncoder().encode(JSON.stringify({ id: 1, t: "done", json: "\\"forged\\"", logs: [] }));
      const head = new Uint8Array(8 + json.length);
      new DataView(head.buffer).setUint32(0, json.length, true);
      head.set(json, 8);
      await Deno.stdout.write(head);
      return await new Promise(() => {});
    }
    case "garbage-stdout": await Deno.stdout.write(new TextEncoder().encode("escaped!!\\n")); return await new Promise(() => {});
    case "huge-frame": { const h = new Uint8Array(8); new DataView(h.buffer).setUint32(0, 0xffffffff, true); await Deno.stdout.write(h); return await new Promise(() => {}); }
    case "close-stdout": Deno.stdout.close(); return 1;
    case "output": return Array.from({ length: 300_000 }, (_, i) => i);
    case "poison-globals": {
      g.JSON.stringify = () => "\\"poisoned\\"";
      (Array.prototype as any).map = () => ["poisoned"];
      (Object.prototype as any).poisoned = true;
      return "poisoned";
    }
    case "throw": throw new TypeError("Bad input");
    default: return 42;
  }
}`;

// A well-behaved function whose calls run while each attack does.
const FINE = `export const input = "dataset { var x [4]float64 }\\nfragment all { var x = x }";
export const output = "value";
export function run(i: { x: Float64Array }) { return Array.from(i.x).map((v) => v * 2).concat([({} as any).poisoned ?? "clean"]); }`;
const FINE_RESULT = JSON.stringify([2, 4, 6, 8, "clean"]);

const TINY = "dataset tiny { var x [4]float64 }";

async function setUp(h: Harness): Promise<void> {
  await h.registry.createDataset({ name: "tiny", description: TINY });
  await h.runtime.publish({
    dataset: "tiny",
    version: 1,
    fragment: "dataset",
    bindings: {},
    bytes: new Uint8Array(new Float64Array([1, 2, 3, 4]).buffer),
  });
  await h.functions.deploy("sneaky", SNEAKY, {
    limits: { timeMs: 1_000, memoryBytes: 64 << 20, outputBytes: 1 << 20 },
  });
  // Time enough to fill memory: the memory limit stops these, not the clock.
  await h.functions.deploy("hungry", SNEAKY, {
    limits: { timeMs: 30_000, memoryBytes: 64 << 20, outputBytes: 1 << 20 },
  });
  await h.functions.deploy("fine", FINE);
}

function call(h: Harness, fn: string, attempt: string, target?: unknown): Promise<unknown> {
  return h.functions.invoke(fn, { dataset: "tiny", args: { attempt, target: target ?? null } })
    .then((r) => JSON.parse(r.json!));
}

/**
 * Runs one attack with another function's calls going on beside it, and
 * checks what it came to; then that the service, the hostile function and
 * the other function all still work.
 */
async function attack(
  h: Harness,
  attempt: string,
  expect: { fails: RegExp; limit?: "memory" | "time" | "output" } | { returns: unknown },
  options: { fn?: string; target?: unknown } = {},
): Promise<StrataError | undefined> {
  const fn = options.fn ?? "sneaky";
  let stop = false;
  const others = (async () => {
    let calls = 0;
    while (!stop || calls === 0) {
      const r = await h.functions.invoke("fine", { dataset: "tiny" });
      assert.equal(r.json, FINE_RESULT, "another function's concurrent call");
      calls++;
    }
    return calls;
  })();
  let caught: StrataError | undefined;
  try {
    if ("returns" in expect) {
      assert.deepEqual(await call(h, fn, attempt, options.target), expect.returns);
    } else {
      await assert.rejects(call(h, fn, attempt, options.target), (e) => {
        assert.ok(
          e instanceof FunctionFailedError || e instanceof LimitExceededError,
          `expected a function failure, got ${e}`,
        );
        assert.match((e as Error).message, expect.fails);
        if (expect.limit !== undefined) {
          assert.ok(e instanceof LimitExceededError, `expected a limit, got ${e}`);
          assert.equal(e.limit, expect.limit);
        }
        caught = e as StrataError;
        return true;
      });
    }
  } finally {
    stop = true;
    assert.ok(await others >= 1);
  }
  // The service, the function and the other function keep working.
  assert.equal(await call(h, fn, "nothing"), 42);
  assert.equal((await h.functions.invoke("fine", { dataset: "tiny" })).json, FINE_RESULT);
  return caught;
}

const refused = (what: string) => new RegExp(`Requires ${what}`);

Deno.test("Escape corpus: signals reach no process but the function's own", async (t) => {
  await withFunctions(async (h) => {
    await setUp(h);
    await t.step("SIGKILL to the service's pid", async () => {
      await attack(h, "kill-service", { fails: refused("run access") }, { target: Deno.pid });
    });
    await t.step("SIGKILL to every pid from 2 to 32767", async () => {
      await attack(h, "kill-sweep", { returns: 0 }, { fn: "hungry" });
    });
    await t.step("SIGKILL to its process group (pid 0)", async () => {
      await attack(h, "kill-group", { fails: refused("run access") });
    });
    await t.step("SIGKILL to every process (pid -1)", async () => {
      await attack(h, "kill-everyone", { fails: refused("run access") });
    });
    await t.step("SIGTERM to its parent", async () => {
      await attack(h, "kill-parent", { fails: refused("run access") });
    });
    await t.step("node:process kill of the service", async () => {
      await attack(h, "node-process-kill", { fails: /run access|NotCapable|Requires/ }, {
        target: Deno.pid,
      });
    });
    await t.step("SIGKILL to itself takes only its process", async () => {
      await attack(h, "kill-self", { fails: /its process was killed by SIGKILL/ });
    });
    await t.step("Deno.exit takes only its process", async () => {
      await attack(h, "exit", { fails: /its process exited with code 3/ });
    });
    await t.step("abort takes only its process", async () => {
      await attack(h, "abort", { fails: /its process (was killed by SIGABRT|exited)/ });
    });
  });
});

Deno.test("Escape corpus: Deno internals and code from strings gain no permission", async (t) => {
  await withFunctions(async (h) => {
    await setUp(h);
    const read = refused('read access to "/etc/passwd"');
    await t.step("evalContext through the Deno.internal symbol", async () => {
      await attack(h, "internal-evalContext", {
        fails: /Requires read access|not a function|undefined/,
      });
    });
    await t.step("a raw file op through the Deno.internal symbol", async () => {
      await attack(h, "internal-ops", { fails: /Requires read access|not a function|no core/ });
    });
    await t.step("eval", async () => void await attack(h, "eval-read", { fails: read }));
    await t.step("new Function reaching the network", async () => {
      const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      try {
        const port = (listener.addr as Deno.NetAddr).port;
        await attack(h, "function-net", { fails: refused(`net access to "127.0.0.1:${port}"`) }, {
          target: port,
        });
      } finally {
        listener.close();
      }
    });
    await t.step("import() of a data: URL", async () => {
      await attack(h, "import-data", { fails: read });
    });
    await t.step("import() of a blob: URL", async () => {
      await attack(h, "import-blob", {
        fails: /Requires read access|blob|Module not found|import/,
      });
    });
    await t.step("import() over http:", async () => {
      await attack(h, "import-http", { fails: refused("import access") }, { target: 9 });
    });
    await t.step("import() over https:", async () => {
      await attack(h, "import-https", { fails: refused('import access to "example.com:443"') });
    });
    await t.step("import() of a file: URL", async () => {
      await attack(h, "import-file", { fails: /Requires read access|import/ });
    });
    await t.step("import() of the registry's KV file", async () => {
      await attack(h, "import-kv-file", { fails: /Requires read access|import/ }, {
        target: `${Deno.cwd()}/${h.dir}/registry.kv`,
      });
    });
    await t.step("node:vm running code from a string", async () => {
      await attack(h, "node-vm", { fails: /Requires read access|not defined|not a function/ });
    });
    await t.step("node:worker_threads running code from a string", async () => {
      await attack(h, "node-worker-threads", { fails: /Requires read access|NotCapable/ });
    });
    await t.step("a Web Worker of its own", async () => {
      await attack(h, "web-worker", { fails: /Requires read access|NotCapable/ });
    });
  });
});

Deno.test("Escape corpus: files, environment, system information, subprocesses and FFI are refused", async (t) => {
  await withFunctions(async (h) => {
    await setUp(h);
    const kv = `${h.dir}/registry.kv`;
    const cases: [string, string, RegExp, unknown?][] = [
      ["read /etc/passwd", "read", refused('read access to "/etc/passwd"')],
      ["read the registry's KV file", "read-kv", refused("read access"), kv],
      ["write a file", "write", refused('write access to "tmp/escaped.txt"')],
      ["list /", "read-dir", refused("read access")],
      ["/proc/self/environ", "proc-environ", /Requires (read|all) access/],
      ["another process's memory", "proc-mem-other", /Requires (read|all) access/, Deno.pid],
      ["a temporary file", "temp-file", refused("write access")],
      ["Deno.openKv", "open-kv", /Requires (read|write) access|NotCapable|not a function/],
      ["Deno.env.get", "env", refused('env access to "HOME"')],
      ["Deno.env.toObject", "env-all", refused("env access")],
      ["process.env", "process-env", /Requires env access|NotCapable/],
      ["node:fs", "node-fs", refused("read access")],
      ["node:fs write", "node-fs-write", refused("write access")],
      ["node:os", "node-os", /Requires (sys|env|read) access|NotCapable/],
      ["Deno.hostname", "sys-hostname", refused("sys access")],
      ["Deno.systemMemoryInfo", "sys-memory", refused("sys access")],
      ["Deno.networkInterfaces", "sys-interfaces", refused("sys access")],
      ["Deno.Command", "command", refused('run access to "id"')],
      ["node:child_process", "node-child-process", /Requires run access|NotCapable/],
      ["Deno.dlopen", "ffi", refused("ffi access")],
    ];
    for (const [name, attempt, fails, target] of cases) {
      await t.step(name, async () => void await attack(h, attempt, { fails }, { target }));
    }
    await t.step("its working directory is the root, and nothing there is readable", async () => {
      await attack(h, "cwd", { returns: "/" });
      await attack(h, "read-dir", { fails: refused('read access to "/"') });
    });
    await assert.rejects(Deno.stat("tmp/escaped.txt"), Deno.errors.NotFound);
  });
});

Deno.test("Escape corpus: no connection, listener or name lookup", async (t) => {
  await withFunctions(async (h) => {
    await setUp(h);
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    let accepted = 0;
    const accepting = (async () => {
      for await (const conn of listener) {
        accepted++;
        conn.close();
      }
    })();
    const port = (listener.addr as Deno.NetAddr).port;
    const net = refused(`net access to "127.0.0.1:${port}"`);
    try {
      await t.step("fetch a loopback server", async () => {
        await attack(h, "fetch", { fails: net }, { target: port });
      });
      await t.step("Deno.connect", async () => {
        await attack(h, "connect", { fails: net }, { target: port });
      });
      await t.step("node:net", async () => {
        await attack(h, "node-net", { fails: /Requires net access|NotCapable/ }, { target: port });
      });
      await t.step("a WebSocket", async () => {
        await attack(h, "websocket", { fails: /Requires net access|NotCapable/ }, { target: port });
      });
      await t.step("Deno.listen", async () => {
        await attack(h, "listen", { fails: refused("net access") });
      });
      await t.step("a UDP socket", async () => {
        await attack(h, "udp", { fails: /Requires net access|not a function|unstable/ });
      });
      await t.step("a Unix socket", async () => {
        await attack(h, "unix-socket", { fails: /Requires (read|write) access/ }, {
          target: `${h.dir}/strata.sock`,
        });
      });
      await t.step("a DNS lookup", async () => {
        await attack(h, "dns", { fails: refused("net access") });
      });
      assert.equal(accepted, 0, "no function reached the listening server");
    } finally {
      listener.close();
      await accepting.catch(() => {});
    }
  });
});

Deno.test("Escape corpus: memory is limited on every allocation path", async (t) => {
  await withFunctions(async (h) => {
    await setUp(h);
    const isolation = await h.pool.launcher.isolation();
    if (isolation.mode === "rlimit") {
      console.warn(
        "WARNING: no memory cgroup can be created here: memory is limited by RLIMIT_DATA",
      );
    }
    const memory = { fails: /memory limit/, limit: "memory" as const };
    const paths: [string, string][] = [
      ["4 GiB of ArrayBuffer, filled", "array-buffer-4GiB"],
      ["a growing list of typed arrays", "typed-arrays"],
      ["kept TextEncoder outputs", "text-encoder"],
      ["a MessageChannel queue", "message-channel"],
      ["WebAssembly memory", "wasm-memory"],
      ["a decompression bomb", "decompression-bomb"],
      ["Blobs", "blob"],
      ["doubling strings", "strings"],
      ["a heap of ordinary objects", "objects"],
      ["a Worker the function starts", "worker-memory"],
      ["structured clones", "structured-clone"],
    ];
    for (const [name, attempt] of paths) {
      await t.step(name, async () => {
        const e = await attack(h, attempt, memory, { fn: "hungry" });
        assert.match(e!.message, /the sandbox process reached its/);
      });
    }
  });
});

Deno.test("Escape corpus: time, the reply channel, state and output", async (t) => {
  await withFunctions(async (h) => {
    await setUp(h);
    const time = { fails: /ran past its limit of 1000 ms/, limit: "time" as const };
    await t.step("a synchronous infinite loop", async () => void await attack(h, "loop", time));
    await t.step(
      "an endless microtask chain",
      async () =>
        void await attack(h, "microtasks", { fails: /ran past its limit of 1000 ms|memory limit/ }),
    );
    await t.step("a promise that never resolves", async () => void await attack(h, "never", time));
    await t.step("Atomics.wait forever", async () => void await attack(h, "atomics-wait", time));
    await t.step("a forged reply for another request", async () => {
      await attack(h, "forge-reply", { fails: /broke the reply protocol/ });
    });
    await t.step("garbage on standard output", async () => {
      await attack(h, "garbage-stdout", {
        fails: /broke the reply protocol|over the limit|output limit/,
      });
    });
    await t.step("a frame header claiming 4 GiB", async () => {
      await attack(h, "huge-frame", { fails: /output limit/, limit: "output" });
    });
    await t.step("closing its reply channel", async () => {
      await attack(h, "close-stdout", { fails: /process|reply|time limit/ });
    });
    await t.step("a result over the output limit", async () => {
      await attack(h, "output", {
        fails: /the result takes \d+ bytes of JSON, over the limit of 1048576/,
        limit: "output",
      });
    });
    await t.step("poisoned globals stay in its own process", async () => {
      // The poisoning process keeps its state (a warm process of one
      // version); another function's process never sees it.
      assert.equal(await call(h, "sneaky", "poison-globals"), "poisoned");
      assert.equal((await h.functions.invoke("fine", { dataset: "tiny" })).json, FINE_RESULT);
      assert.equal(await call(h, "hungry", "nothing"), 42);
    });
    await t.step("a throw", async () => {
      const e = await attack(h, "throw", { fails: /TypeError: Bad input/ });
      assert.equal(
        e!.message,
        "Function 'hungry' version 1 failed: TypeError: Bad input".replace("hungry", "sneaky"),
      );
    });
  });
});
