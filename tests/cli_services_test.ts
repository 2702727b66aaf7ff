/** `strata services` against a server hosting HEPnOS, FlameStore and Mobject. */
import assert from "node:assert/strict";
import { startServer } from "./_server.ts";

async function strata(url: string, ...args: string[]) {
  const out = await new Deno.Command("deno", {
    args: [
      "run",
      "--allow-net=127.0.0.1",
      "--allow-read",
      "--allow-env",
      "src/cli/main.ts",
      ...args,
      "--url",
      url,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

Deno.test("strata services lists the hosted services, and describes one", async () => {
  const server = await startServer({
    extra:
      "services:\n  hepnos: { targets: 4 }\n  flamestore: { targets: 2 }\n  mobject: { targets: 3, options: { chunkBytes: 65536 } }\n",
  });
  try {
    const list = await strata(server.url, "services");
    assert.equal(list.code, 0, list.stderr);
    const lines = list.stdout.trim().split("\n");
    assert.deepEqual(lines.map((l) => l.split("\t").slice(0, 2)), [
      ["hepnos", "4 targets"],
      ["flamestore", "2 targets"],
      ["mobject", "3 targets"],
    ]);
    assert.match(lines[2]!, /operations .*write_op .*read_op/);
    const one = await strata(server.url, "services", "mobject");
    assert.equal(one.code, 0, one.stderr);
    const s = JSON.parse(one.stdout);
    assert.equal(s.chunkBytes, 65536);
    assert.equal(s.placement.numTargets, 3);
    const missing = await strata(server.url, "services", "nope");
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /nope/);
  } finally {
    await server.stop();
  }
});
