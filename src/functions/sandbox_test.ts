import assert from "node:assert/strict";
import { Sandbox, type SandboxReply } from "./sandbox.ts";

const LIMITS = { memoryBytes: 64 << 20, outputBytes: 1 << 20 };

async function load(body: string): Promise<Sandbox> {
  const sb = Sandbox.spawn();
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
  // The import is built at run time, so no lexical check of the source sees it.
  const sb = await load(
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

Deno.test("Sandbox terminates a Worker past its time and answers later requests as crashed", async () => {
  const sb = await load("for (;;) {}");
  const r = await run(sb, 100);
  assert.deepEqual(r, { t: "timeout", ms: 100 });
  assert.equal(sb.dead, true);
  assert.deepEqual(await run(sb), { t: "crashed", message: "the Worker was terminated" });
});

Deno.test("Sandbox captures console output as the call's log, bounded", async () => {
  const sb = await load('for (let i = 0; i < 500; i++) console.log("line", i); return 1;');
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
