import assert from "node:assert/strict";
import {
  FunctionFailedError,
  InvalidFunctionError,
  LimitExceededError,
  type StrataError,
} from "../src/errors.ts";
import { type Harness, withFunctions } from "./_functions.ts";

// A function that behaves during its dry run and then tries, on request, to
// get out of its sandbox: the attack the sandbox exists for.
const SNEAKY = `
import type { FunctionContext } from "strata/function";
export const input = "dataset { var x [4]float64 }\\nfragment all { var x = x }";
export const output = "value";
// deno-lint-ignore no-explicit-any
const g = globalThis as any;
export async function run(_input: { x: Float64Array }, ctx: FunctionContext): Promise<unknown> {
  const { attempt, port } = (ctx.args ?? {}) as { attempt?: string; port?: number };
  if (ctx.dryRun) return 0;
  switch (attempt) {
    case "read": return Deno.readTextFileSync("/etc/passwd");
    case "write": Deno.writeTextFileSync("tmp/escaped.txt", "out"); return "written";
    case "fetch": return (await fetch("http://127.0.0.1:" + port + "/")).status;
    case "env": return Deno.env.get("HOME");
    case "command": return new Deno.Command("ls").outputSync().code;
    case "ffi": return String(Deno.dlopen("libc.so.6", {}));
    case "code-from-string": return await new Function("return imp" + "ort('https://example.com/x.ts')")();
    case "kv": return String(await Deno.openKv());
    case "stdout": return Deno.stdout.writeSync(new TextEncoder().encode("escaped\\n"));
    case "worker": return String(new g.Worker("data:application/javascript,1", { type: "module" }));
    case "exit": return Deno.exit(1);
    case "loop": for (;;) { /* spin */ }
    case "4GiB": return new ArrayBuffer(4 * 2 ** 30).byteLength;
    case "4GiB-caught":
      try { new Float64Array(2 ** 29); } catch { /* swallowed */ }
      return "swallowed";
    case "balloon": {
      const kept: Float64Array[] = [];
      for (;;) kept.push(new Float64Array(8 << 20));
    }
    case "objects": {
      const kept: unknown[] = [];
      for (let i = 0; ; i++) kept.push({ i, s: "x" + i, a: [i, i] });
    }
    case "node-buffer": return g.Buffer.alloc(4 * 2 ** 30).length;
    case "node-require": return String(g.require("node:fs").readFileSync("/etc/passwd"));
    case "output": return Array.from({ length: 300_000 }, (_, i) => i);
    case "throw": throw new TypeError("Bad input");
    default: return 42;
  }
}`;

const TINY = "dataset tiny { var x [4]float64 }";

async function setUp(h: Harness): Promise<void> {
  await h.registry.createDataset({ name: "tiny", description: TINY });
  await h.runtime.publish({
    dataset: "tiny",
    version: 1,
    fragment: "dataset",
    bindings: {},
    bytes: new Uint8Array(32),
  });
  await h.functions.deploy("sneaky", SNEAKY, {
    limits: { timeMs: 500, memoryBytes: 64 << 20, outputBytes: 1 << 20 },
  });
}

async function attempt(h: Harness, what: string, port = 0): Promise<unknown> {
  const r = await h.functions.invoke("sneaky", { dataset: "tiny", args: { attempt: what, port } });
  return JSON.parse(r.json!);
}

async function fails(
  h: Harness,
  what: string,
  cls: typeof FunctionFailedError | typeof LimitExceededError,
  includes: string,
  port = 0,
): Promise<StrataError> {
  let caught: unknown;
  await assert.rejects(attempt(h, what, port), (e) => {
    caught = e;
    assert.ok(e instanceof cls, `expected ${cls.name}, got ${e}`);
    assert.ok(
      (e as Error).message.includes(includes),
      `expected the message to include ${JSON.stringify(includes)}: ${(e as Error).message}`,
    );
    return true;
  });
  // The service and the function keep working after the attempt.
  assert.equal(await attempt(h, "nothing"), 42);
  return caught as StrataError;
}

Deno.test("Functions cannot read, write, connect, read env, run commands or load libraries", async (t) => {
  await withFunctions(async (h) => {
    await setUp(h);
    await t.step("read /etc/passwd", async () => {
      await fails(h, "read", FunctionFailedError, 'Requires read access to "/etc/passwd"');
    });
    await t.step("write a file", async () => {
      await fails(h, "write", FunctionFailedError, 'Requires write access to "tmp/escaped.txt"');
      await assert.rejects(Deno.stat("tmp/escaped.txt"), Deno.errors.NotFound);
    });
    await t.step("fetch 127.0.0.1 where a server listens", async () => {
      const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      try {
        const port = (listener.addr as Deno.NetAddr).port;
        await fails(
          h,
          "fetch",
          FunctionFailedError,
          `Requires net access to "127.0.0.1:${port}"`,
          port,
        );
      } finally {
        listener.close();
      }
    });
    await t.step("read the environment", async () => {
      await fails(h, "env", FunctionFailedError, 'Requires env access to "HOME"');
    });
    await t.step("run a subprocess", async () => {
      await fails(h, "command", FunctionFailedError, 'Requires run access to "ls"');
    });
    await t.step("load a library (FFI)", async () => {
      await fails(h, "ffi", FunctionFailedError, 'Requires ffi access to "libc.so.6"');
    });
  });
});

Deno.test("Functions cannot import from outside their source, persist data or reach the process", async (t) => {
  await withFunctions(async (h) => {
    await setUp(h);
    await t.step("a remote import in the source is refused at deploy", async () => {
      const source = SNEAKY.replace(
        'import type { FunctionContext } from "strata/function";',
        'import type { FunctionContext } from "strata/function";\nimport "https://example.com/x.ts";',
      );
      await assert.rejects(h.functions.deploy("remote", source), (e) => {
        assert.ok(e instanceof InvalidFunctionError);
        assert.equal(
          e.message,
          "Cannot deploy function 'remote': declaration failed: it imports 'https://example.com/x.ts' at line 3: functions import nothing but types from 'strata/function'",
        );
        return true;
      });
      await assert.rejects(
        h.functions.deploy(
          "dynamic",
          SNEAKY.replace("return 42;", 'return await import("npm:left-pad");'),
        ),
        /imports a module dynamically at line \d+: functions import nothing at run time/,
      );
    });
    await t.step("an import built from a string at run time", async () => {
      await fails(
        h,
        "code-from-string",
        FunctionFailedError,
        "Function is not available to functions",
      );
    });
    await t.step("open a KV store", async () => {
      await fails(h, "kv", FunctionFailedError, "Deno.openKv is not available to functions");
    });
    await t.step("write to the service's stdout", async () => {
      await fails(h, "stdout", FunctionFailedError, "Deno.stdout is not available to functions");
    });
    await t.step("start a Worker of its own", async () => {
      await fails(h, "worker", FunctionFailedError, "is not a constructor");
    });
    await t.step("reach Node's Buffer or require", async () => {
      await fails(h, "node-buffer", FunctionFailedError, "TypeError");
      await fails(h, "node-require", FunctionFailedError, "TypeError");
    });
    await t.step("exit the process", async () => {
      await fails(h, "exit", FunctionFailedError, "Deno.exit is not available to functions");
    });
  });
});

Deno.test("Functions that hang, balloon or return too much fail that call, naming the limit", async (t) => {
  await withFunctions(async (h) => {
    await setUp(h);
    await h.functions.deploy(
      "fine",
      'export const input = "dataset { var x [4]float64 }\\nfragment all { var x = x }";\nexport const output = "value";\nexport function run(i: { x: Float64Array }) { return i.x.length; }',
    );
    await t.step("an infinite loop is terminated, and other functions run meanwhile", async () => {
      const spinning = attempt(h, "loop");
      const other = await h.functions.invoke("fine", { dataset: "tiny" });
      assert.equal(other.json, "4");
      await assert.rejects(spinning, LimitExceededError);
      const err = await fails(h, "loop", LimitExceededError, "exceeded its time limit");
      assert.equal(
        err.message,
        "Function 'sneaky' version 1 exceeded its time limit: ran past its limit of 500 ms; its Worker was terminated and is replaced",
      );
    });
    await t.step("a 4 GiB allocation", async () => {
      const err = await fails(h, "4GiB", LimitExceededError, "exceeded its memory limit");
      assert.equal((err as LimitExceededError).limit, "memory");
      assert.match(
        err.message,
        /new ArrayBuffer of 4294967296 bytes would bring the Worker to \d+ bytes, over its limit of 67108864/,
      );
    });
    await t.step("a 4 GiB allocation whose error the function swallows", async () => {
      await fails(h, "4GiB-caught", LimitExceededError, "new Float64Array of 4294967296 bytes");
    });
    await t.step("a growing list of arrays", async () => {
      await fails(h, "balloon", LimitExceededError, "over its limit of 67108864");
    });
    await t.step("a growing heap of ordinary objects", async () => {
      // Time enough to fill the heap: the heap limit stops it, not the clock.
      await h.functions.deploy("hungry", SNEAKY, {
        limits: { timeMs: 20_000, memoryBytes: 64 << 20, outputBytes: 1 << 20 },
      });
      const before = Deno.memoryUsage().rss;
      const call = (attempt: string) =>
        h.functions.invoke("hungry", { dataset: "tiny", args: { attempt } });
      await assert.rejects(call("objects"), (e) => {
        assert.ok(e instanceof LimitExceededError);
        assert.equal(e.limit, "memory");
        assert.match(e.message, /JavaScript heap reached its limit of 64 MiB and V8 stopped it/);
        return true;
      });
      const grown = Deno.memoryUsage().rss - before;
      assert.ok(grown < 512 * 2 ** 20, `the process grew by ${grown} bytes`);
      assert.equal((await call("nothing")).json, "42");
    });
    await t.step("a result over the output limit", async () => {
      const err = await fails(h, "output", LimitExceededError, "exceeded its output limit");
      assert.match(err.message, /the result takes \d+ bytes of JSON, over the limit of 1048576/);
    });
    await t.step("a throw", async () => {
      const err = await fails(h, "throw", FunctionFailedError, "TypeError: Bad input");
      assert.equal(err.message, "Function 'sneaky' version 1 failed: TypeError: Bad input");
    });
  });
});
