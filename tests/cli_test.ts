import assert from "node:assert/strict";
import { runDeno, startServer } from "./_server.ts";

const STRATA = [
  "run",
  "--allow-net=127.0.0.1",
  "--allow-read=.",
  "--allow-env=LOG_TOKENS,LOG_STREAM",
  "src/cli/main.ts",
];

Deno.test("strata create, publish, versions, attach and ls against a real server", async () => {
  const server = await startServer();
  const url = ["--url", server.url];
  try {
    const ddl = `${server.dataDir}/grid.ddl`;
    await Deno.writeTextFile(
      ddl,
      "dataset grid { var t [4, 4]int16 }\nfragment tr { var t [j, i] = t[i, j] }\n",
    );
    const payload = `${server.dataDir}/grid.bin`;
    await Deno.writeFile(
      payload,
      new Uint8Array(Int16Array.from({ length: 16 }, (_, i) => i).buffer),
    );
    const create = await runDeno([...STRATA, "create", "grid", ddl, "--durable", ...url]);
    assert.equal(create.code, 0, create.stderr);
    const pub = await runDeno([...STRATA, "publish", "grid", "1", "dataset", payload, ...url]);
    assert.equal(pub.code, 0, pub.stderr);
    assert.equal(JSON.parse(pub.stdout).committed, true);
    const versions = await runDeno([...STRATA, "versions", "grid", ...url]);
    assert.equal(versions.stdout, "1\tcommitted\t1 fragment\t32 bytes\n");
    const attach = await new Deno.Command("deno", {
      args: [...STRATA, "attach", "grid", "tr", "--version", "1", ...url],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(attach.code, 0, new TextDecoder().decode(attach.stderr));
    assert.deepEqual([...new Int16Array(attach.stdout.buffer)], [
      0,
      4,
      8,
      12,
      1,
      5,
      9,
      13,
      2,
      6,
      10,
      14,
      3,
      7,
      11,
      15,
    ]);
    const pub2 = await runDeno([...STRATA, "publish", "grid", "2", "dataset", payload, ...url]);
    assert.equal(pub2.code, 0, pub2.stderr);
    const watch = await runDeno([
      ...STRATA,
      "watch",
      "grid",
      "tr",
      "--from",
      "1",
      "--ahead",
      "2",
      "--wait",
      "300",
      ...url,
    ]);
    assert.equal(watch.code, 0, watch.stderr);
    assert.equal(watch.stdout, "1\t32 bytes\tdropped 0\n2\t32 bytes\tdropped 0\n");
    assert.match(watch.stderr, /^no version of 'grid' within 300 ms: 2 versions, 64 bytes in /);
    // Without --from it starts at the latest committed version.
    const latest = await runDeno([...STRATA, "watch", "grid", "tr", "--wait", "200", ...url]);
    assert.equal(latest.stdout, "2\t32 bytes\tdropped 0\n");
    const ls = await runDeno([...STRATA, "ls", ...url]);
    assert.equal(ls.stdout, "grid\tlatest 2\tdurable\tkeeps 2 versions\n");
    const missing = await runDeno([...STRATA, "attach", "nope", "tr", ...url]);
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr, "strata: Unknown dataset 'nope'\n");
  } finally {
    await server.stop();
    await Deno.remove(server.dataDir, { recursive: true });
  }
});
