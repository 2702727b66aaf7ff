import assert from "node:assert/strict";
import { Relay } from "./relay.ts";
import { Sandbox, type SandboxReply } from "./sandbox.ts";

const LIMITS = { memoryBytes: 64 << 20, outputBytes: 1 << 20 };

async function withRelay(fn: (relay: Relay) => Promise<void>): Promise<void> {
  const relay = new Relay();
  try {
    await fn(relay);
  } finally {
    await relay.close();
  }
}

async function load(relay: Relay, body: string): Promise<Sandbox> {
  const sb = Sandbox.spawn(relay, LIMITS.memoryBytes);
  const source =
    `export const input = ""; export const output = "value"; export async function run() { ${body} }`;
  const r = await sb.request({ t: "load", source, limits: LIMITS }, [], 5000);
  assert.equal(r.t, "loaded", JSON.stringify(r));
  return sb;
}

function run(sb: Sandbox, timeoutMs = 5000): Promise<SandboxReply> {
  const buffer = new ArrayBuffer(0);
  return sb.request({ t: "run", buffer, call: { fields: [], base: 0, ctx: {} }, output: "value" }, [
    buffer,
  ], timeoutMs);
}

Deno.test("Sandbox refuses a remote import by permission, even past the deploy-time check", async () => {
  await withRelay(async (relay) => {
    // The import is built at run time, so no lexical check of the source sees it.
    const sb = await load(
      relay,
      'const url = ["https:", "", "example.com", "x.ts"].join("/"); return await import(url);',
    );
    try {
      const r = await run(sb);
      assert.equal(r.t, "error");
      assert.match(
        (r as { error: { message: string } }).error.message,
        /Requires import access to "example.com:443"/,
      );
    } finally {
      sb.terminate();
    }
  });
});

Deno.test("Sandbox terminates a Worker past its time and answers later requests as crashed", async () => {
  await withRelay(async (relay) => {
    const spinning = await load(relay, "for (;;) {}");
    assert.deepEqual(await run(spinning, 100), { t: "timeout", ms: 100 });
    assert.equal(spinning.dead, true);
    assert.deepEqual(await run(spinning), { t: "crashed", message: "the Worker was terminated" });
    // A function that waits rather than spins runs out of time the same way.
    const waiting = await load(relay, "await new Promise((r) => setTimeout(r, 10_000));");
    assert.deepEqual(await run(waiting, 100), { t: "timeout", ms: 100 });
    assert.equal(waiting.dead, true);
  });
});

Deno.test("Sandbox keeps a short time limit after a request with a long one", async () => {
  await withRelay(async (relay) => {
    // The first call answers at once; the second spins.
    const sb = await load(
      relay,
      "globalThis.calls = (globalThis.calls ?? 0) + 1; if (globalThis.calls > 1) for (;;) {} return 1;",
    );
    assert.deepEqual(await run(sb, 600_000), { t: "done", json: "1", logs: [] });
    let sentinel: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<"late">((resolve) =>
      sentinel = setTimeout(() => resolve("late"), 30_000)
    );
    try {
      assert.deepEqual(await Promise.race([run(sb, 100), late]), { t: "timeout", ms: 100 });
    } finally {
      clearTimeout(sentinel);
    }
    assert.equal(sb.dead, true);
  });
});

Deno.test("Sandbox stops a Worker whose heap of ordinary objects reaches its limit", async () => {
  await withRelay(async (relay) => {
    const before = Deno.memoryUsage().rss;
    const growing = await load(
      relay,
      'const kept = []; for (let i = 0; ; i++) kept.push({ i, s: "x" + i, a: [i, i] });',
    );
    const other = await load(relay, "return 7;");
    try {
      const r = await run(growing, 3_000);
      assert.deepEqual(r, {
        t: "error",
        error: {
          name: "RangeError",
          limit: "memory",
          message:
            "the Worker's JavaScript heap reached its limit of 64 MiB and V8 stopped it; the Worker is replaced",
        },
        logs: [],
      });
      assert.equal(growing.dead, true);
      // The process did not grow by much more than the limit, and other Workers keep working.
      const grown = Deno.memoryUsage().rss - before;
      assert.ok(grown < 512 * 2 ** 20, `the process grew by ${grown} bytes`);
      const fine = await run(other);
      assert.equal(fine.t === "done" && fine.json, "7");
    } finally {
      growing.terminate();
      other.terminate();
    }
  });
});

Deno.test("Sandbox names the heap limit at the time limit when a function stops its watch", async () => {
  await withRelay(async (relay) => {
    const sb = await load(
      relay,
      "for (let id = 0; id < 10_000; id++) clearInterval(id);\n" +
        'const kept = []; for (let i = 0; ; i++) kept.push({ i, s: "x" + i });',
    );
    try {
      const r = await run(sb, 2_000);
      assert.equal(r.t, "error");
      assert.equal((r as { error: { limit: string } }).error.limit, "memory");
      assert.equal(sb.dead, true);
    } finally {
      sb.terminate();
    }
  });
});

Deno.test("Sandbox hides the Node globals of its Worker", async () => {
  await withRelay(async (relay) => {
    const sb = await load(
      relay,
      'const g = globalThis as any; return ["require", "Buffer", "process", "nodeBootstrap", "self"].map((n) => typeof g[n]);',
    );
    try {
      const r = await run(sb);
      assert.equal(r.t === "done" && r.json, JSON.stringify(Array(5).fill("undefined")));
    } finally {
      sb.terminate();
    }
  });
});

Deno.test("Sandbox captures console output as the call's log, bounded", async () => {
  await withRelay(async (relay) => {
    const sb = await load(relay, 'for (let i = 0; i < 500; i++) console.log("line", i); return 1;');
    try {
      const r = await run(sb);
      assert.equal(r.t, "done");
      const logs = (r as { logs: string[] }).logs;
      assert.equal(logs.length, 100);
      assert.equal(logs[0], "line 0");
    } finally {
      sb.terminate();
    }
  });
});
