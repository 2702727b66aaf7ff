import assert from "node:assert/strict";
import { main } from "./main.ts";

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const log = console.log;
  const error = console.error;
  console.log = (...a: unknown[]) => out.push(a.join(" "));
  console.error = (...a: unknown[]) => err.push(a.join(" "));
  try {
    const code = await main(args);
    return { code, out: out.join("\n"), err: err.join("\n") };
  } finally {
    console.log = log;
    console.error = error;
  }
}

Deno.test("main() check prints every layout and asks for unbound parameters", async () => {
  const { code, out } = await run(["check", "examples/particles.ddl"]);
  assert.equal(code, 0);
  assert.ok(out.includes("dataset particles: 512 bytes"));
  assert.ok(out.includes("  pos.y  float32  p[0:8]  offset 32  strides [4]"));
  assert.ok(out.includes("fragment block(r0, r1, c0, c1): bind its parameters to lay it out"));
});

Deno.test("main() plan prints the merged copy plan", async () => {
  const { code, out } = await run([
    "plan",
    "examples/particles.ddl",
    "dataset",
    "block",
    "--bind",
    "r0=1",
    "--bind",
    "r1=3",
    "--bind",
    "c0=0",
    "--bind",
    "c1=6",
  ]);
  assert.equal(code, 0);
  assert.equal(
    out,
    "Plan: 1 source (512 bytes) -> target (96 bytes), 1 op\n  #0  memcpy src 0 @368 -> dst @0  96 bytes",
  );
});

Deno.test("main() reports description errors with their position and exits 1", async () => {
  await Deno.mkdir("tmp", { recursive: true });
  const file = await Deno.makeTempFile({ dir: "tmp", suffix: ".ddl" });
  try {
    await Deno.writeTextFile(file, "dataset {\n  var x [4]Point\n}\n");
    const { code, err } = await run(["check", file]);
    assert.equal(code, 1);
    assert.equal(err, "strata: 2:12: Unknown type 'Point'\n  var x [4]Point\n           ^");
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("main() rejects a malformed --bind and an unknown command", async () => {
  const bad = await run(["check", "examples/particles.ddl", "--bind", "r0"]);
  assert.equal(bad.code, 1);
  assert.equal(bad.err, "strata: Invalid --bind 'r0': expected NAME=INTEGER");
  assert.equal((await run(["frobnicate"])).code, 2);
});
