import assert from "node:assert/strict";
import { BusyError, ClosedError } from "../errors.ts";
import { DEFAULT_LIMITS } from "./limits.ts";
import { LoadFailed, SandboxPool } from "./pool.ts";

const module = (key: string, body = "return 1;") => ({
  key,
  limits: DEFAULT_LIMITS,
  source:
    `export const input = ""; export const output = "value"; export function run() { ${body} }`,
});

Deno.test("SandboxPool.acquire() reuses warm processes, caps them per module and queues the rest", async () => {
  const pool = new SandboxPool({ perModule: 2, spares: 0, maxQueue: 1 });
  try {
    const m = module("a");
    const a = await pool.acquire(m);
    const b = await pool.acquire(m);
    assert.deepEqual([a.cold, b.cold, pool.stats.workers], [true, true, 2]);
    const waiting = pool.acquire(m);
    await assert.rejects(pool.acquire(m), BusyError);
    a.release();
    const c = await waiting;
    assert.equal(c.sandbox, a.sandbox);
    assert.equal(c.cold, false);
    // A terminated Worker is replaced, not reused.
    c.sandbox.terminate();
    c.release();
    const d = await pool.acquire(m);
    assert.notEqual(d.sandbox, a.sandbox);
    assert.equal(d.cold, true);
    assert.equal(pool.stats.workers, 2);
    b.release();
    d.release();
  } finally {
    await pool.close();
  }
});

Deno.test("SandboxPool.acquire() reports a module that does not load, and frees its slot", async () => {
  const pool = new SandboxPool({ perModule: 1, spares: 0 });
  try {
    const bad = { ...module("bad"), source: 'throw new Error("Broken");' };
    await assert.rejects(pool.acquire(bad), (e) => {
      assert.ok(e instanceof LoadFailed);
      assert.equal(e.message, "Error: Broken");
      return true;
    });
    assert.equal(pool.stats.workers, 0);
    const ok = await pool.acquire(module("ok"));
    ok.release();
  } finally {
    await pool.close();
  }
});

Deno.test("SandboxPool.close() fails waiting calls with ClosedError and terminates processes", async () => {
  const pool = new SandboxPool({ perModule: 1, spares: 1 });
  pool.warm();
  assert.equal(pool.stats.spares, 1);
  const m = module("a");
  const held = await pool.acquire(m);
  const waiting = pool.acquire(m);
  const closed = pool.close();
  await assert.rejects(waiting, ClosedError);
  await closed;
  held.release();
  assert.equal(held.sandbox.dead, true);
  await assert.rejects(pool.acquire(m), ClosedError);
  assert.deepEqual(pool.stats, { workers: 0, spares: 0, waiting: 0, processes: 0 });
});

Deno.test("SandboxPool terminates a module's processes once they have been idle for idleMs", async () => {
  const pool = new SandboxPool({ spares: 0, idleMs: 1000 });
  try {
    const m = module("idle");
    const a = await pool.acquire(m);
    a.release();
    // Used again before its idle time ran out: the same warm Worker.
    const b = await pool.acquire(m);
    assert.equal(b.sandbox, a.sandbox);
    b.release();
    // Evicted within a generous bound of its idle time (a pool that never
    // evicts fails here rather than hanging).
    for (let waited = 0; pool.stats.workers > 0 && waited < 30_000; waited += 20) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(pool.stats.workers, 0);
    assert.equal(a.sandbox.dead, true);
    const c = await pool.acquire(m);
    assert.equal(c.cold, true);
    c.release();
  } finally {
    await pool.close();
  }
});

Deno.test("SandboxPool keeps to maxProcesses in all: an idle process of another module makes way", async () => {
  const pool = new SandboxPool({ perModule: 2, maxProcesses: 2, spares: 0 });
  try {
    const a1 = await pool.acquire(module("a"));
    const a2 = await pool.acquire(module("a"));
    a2.release();
    // b takes the room of a's idle process.
    const b = await pool.acquire(module("b"));
    assert.equal(pool.stats.workers, 2);
    // c waits: both processes are busy.
    let got = false;
    const c = pool.acquire(module("c")).then((lease) => (got = true, lease));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(got, false);
    b.release();
    const lease = await c;
    assert.equal(pool.stats.workers, 2);
    const r = await lease.sandbox.request({ t: "reduce", values: ["1"] }, [], 5000);
    assert.equal(r.t === "done" && r.json, "1");
    lease.release();
    a1.release();
  } finally {
    await pool.close();
  }
});

Deno.test("SandboxPool kills an idle process that keeps computing after its call returned", async () => {
  const pool = new SandboxPool({ spares: 0, idleCpuCheckMs: 300 });
  try {
    const spinner = await pool.acquire(module(
      "spinner",
      'new Worker("data:application/javascript,for(;;){}", { type: "module" }); return 1;',
    ));
    const quiet = await pool.acquire(module("quiet"));
    const buffer = new ArrayBuffer(0);
    const run = {
      t: "run",
      buffer,
      call: { fields: [], base: 0, ctx: {} },
      output: "value",
    } as const;
    assert.equal((await spinner.sandbox.request(run, [], 5000)).t, "done");
    assert.equal((await quiet.sandbox.request(run, [], 5000)).t, "done");
    spinner.release();
    quiet.release();
    const deadline = Date.now() + 30_000;
    while (!spinner.sandbox.dead && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(spinner.sandbox.dead, true, "the spinning process was killed");
    assert.equal(quiet.sandbox.dead, false, "the quiet process was kept");
    assert.equal(pool.stats.workers, 1);
  } finally {
    await pool.close();
  }
});
