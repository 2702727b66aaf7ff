import assert from "node:assert/strict";
import { DEFAULT_NICE, Launcher } from "./launcher.ts";
import { Sandbox, type SandboxReply } from "./sandbox.ts";

const LIMITS = { memoryBytes: 64 << 20, outputBytes: 1 << 20 };

async function withRelay(fn: (launcher: Launcher) => Promise<void>): Promise<void> {
  const launcher = new Launcher();
  try {
    await fn(launcher);
  } finally {
    await launcher.close();
  }
}

async function load(relay: Launcher, body: string): Promise<Sandbox> {
  const sb = Sandbox.spawn(relay, LIMITS.memoryBytes);
  const source =
    `export const input = ""; export const output = "value"; export async function run() { ${body} }`;
  const r = await sb.request({ t: "load", source, limits: LIMITS }, [], 5000);
  assert.equal(r.t, "loaded", JSON.stringify(r));
  return sb;
}

/** A timeout's reply from a sandbox of `relay`: its niceness as the launcher set it. */
async function timedOut(relay: Launcher, ms: number): Promise<SandboxReply> {
  const nice = (await relay.isolation()).mode === "heap-only" ? 0 : DEFAULT_NICE;
  return { t: "timeout", ms, nice };
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

Deno.test("Sandbox kills a process past its time and answers later requests as crashed", async () => {
  await withRelay(async (relay) => {
    const spinning = await load(relay, "for (;;) {}");
    assert.deepEqual(await run(spinning, 100), await timedOut(relay, 100));
    assert.equal(spinning.dead, true);
    assert.deepEqual(await run(spinning), {
      t: "crashed",
      message: "the process was killed: it ran past its time limit of 100 ms",
    });
    // A function that waits rather than spins runs out of time the same way.
    const waiting = await load(relay, "await new Promise((r) => setTimeout(r, 10_000));");
    assert.deepEqual(await run(waiting, 100), await timedOut(relay, 100));
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
      assert.deepEqual(await Promise.race([run(sb, 100), late]), await timedOut(relay, 100));
    } finally {
      clearTimeout(sentinel);
    }
    assert.equal(sb.dead, true);
  });
});

Deno.test("Sandbox stops a process whose heap of ordinary objects reaches its limit", async () => {
  await withRelay(async (relay) => {
    const growing = await load(
      relay,
      'const kept = []; for (let i = 0; ; i++) kept.push({ i, s: "x" + i, a: [i, i] });',
    );
    const other = await load(relay, "return 7;");
    try {
      const r = await run(growing, 10_000);
      assert.equal(r.t, "error", JSON.stringify(r));
      const error = (r as { error: { limit?: string; message: string } }).error;
      assert.equal(error.limit, "memory");
      assert.match(error.message, /limit/);
      assert.equal(growing.dead, true);
      // Other processes keep working.
      const fine = await run(other);
      assert.equal(fine.t === "done" && fine.json, "7");
    } finally {
      growing.terminate();
      other.terminate();
    }
  });
});

Deno.test("Sandbox names a process that exits or kills itself, and it takes only itself", async () => {
  await withRelay(async (relay) => {
    const exits = await load(relay, "Deno.exit(3);");
    const kills = await load(relay, 'Deno.kill(Deno.pid, "SIGKILL"); await new Promise(() => {});');
    const other = await load(relay, "return 7;");
    try {
      assert.deepEqual(await run(exits), {
        t: "crashed",
        message: "its process exited with code 3",
      });
      const r = await run(kills);
      assert.equal(r.t, "crashed");
      assert.match((r as { message: string }).message, /killed by SIGKILL/);
      const fine = await run(other);
      assert.equal(fine.t === "done" && fine.json, "7");
    } finally {
      exits.terminate();
      kills.terminate();
      other.terminate();
    }
  });
});

Deno.test("Sandbox kills a process that answers for a request it was not sent", async () => {
  await withRelay(async (relay) => {
    const sb = await load(
      relay,
      `const json = new TextEncoder().encode(JSON.stringify({ id: 99, t: "done", json: "1", logs: [] }));
       const head = new Uint8Array(8 + json.length);
       new DataView(head.buffer).setUint32(0, json.length, true);
       head.set(json, 8);
       await Deno.stdout.write(head);
       await new Promise(() => {});`,
    );
    try {
      const r = await run(sb);
      assert.equal(r.t, "crashed");
      assert.match(
        (r as { message: string }).message,
        /reply named request 99 while 2 was under way/,
      );
      assert.equal(sb.dead, true);
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

Deno.test("Sandbox returns large output arrays as they are, each with its padding", async () => {
  await withRelay(async (relay) => {
    const sb = Sandbox.spawn(relay, LIMITS.memoryBytes);
    const source = `export const input = ""; export const output = "value";
export function run() {
  return { a: new Uint8Array(3).fill(7), b: Float32Array.from({ length: 100_000 }, (_, i) => i) };
}`;
    try {
      const loaded = await sb.request({ t: "load", source, limits: LIMITS }, [], 5000);
      assert.equal(loaded.t, "loaded");
      const buffer = new ArrayBuffer(0);
      const r = await sb.request(
        {
          t: "run",
          buffer,
          call: { fields: [], base: 0, ctx: {} },
          output: "arrays",
        },
        [buffer],
        5000,
      );
      assert.equal(r.t, "done", JSON.stringify(r).slice(0, 200));
      const arrays = (r as { arrays: Record<string, ArrayLike<number>> }).arrays;
      assert.deepEqual(Array.from(arrays.a!), [7, 7, 7]);
      assert.equal(arrays.b!.length, 100_000);
      assert.equal(arrays.b![99_999], 99_999);
      assert.equal(arrays.b![12_345], 12_345);
    } finally {
      await sb.terminate();
    }
  });
});

Deno.test("A sandbox process exits by itself once the service closes its standard input", async () => {
  await withRelay(async (launcher) => {
    const launched = await launcher.launch(64, LIMITS.memoryBytes);
    const { child } = launched;
    // Up once it says so on stdout; then the service goes away.
    const reader = child.stdout.getReader();
    assert.ok((await reader.read()).value!.byteLength > 0);
    await child.stdin.close();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const status = await Promise.race([
      child.status,
      new Promise<undefined>((r) => timer = setTimeout(() => r(undefined), 10_000)),
    ]);
    clearTimeout(timer);
    if (status === undefined) child.kill("SIGKILL");
    assert.equal(status?.code, 0, "the process outlived its service's pipe");
    reader.releaseLock();
    await child.stdout.cancel();
    await child.stderr.cancel();
  });
});
