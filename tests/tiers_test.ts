import assert from "node:assert/strict";
import { connect, ServerError } from "../src/client/mod.ts";
import { runDeno, startServer } from "./_server.ts";

/** A 256-byte dataset: four fit the 1 KiB memory tier below. */
const BLOCK = "dataset block { var v [64]float32 }\n";

/** Memory 1 KiB over file 2 KiB over backing 4 KiB: small enough to fill in a test. */
const TIERS = `tiers:
  - { name: memory, kind: memory, capacity: 1KiB }
  - { name: file, kind: file, capacity: 2KiB }
  - { name: backing, kind: backing, capacity: 4KiB }
`;

const block = (v: number) => Float32Array.from({ length: 64 }, (_, i) => v * 1000 + i);

const STRATA = [
  "run",
  "--allow-net=127.0.0.1",
  "--allow-read=.",
  "--allow-env=LOG_TOKENS,LOG_STREAM",
  "src/cli/main.ts",
];

Deno.test("strata serve spills a full tier with no loss, shows it in GET /v1/nodes, and answers 507 when every tier is full", async () => {
  const server = await startServer({ extra: TIERS });
  const strata = connect(server.url);
  try {
    await strata.createDataset("block", BLOCK, { retention: 100 });
    // 7 KiB of tiers hold 28 versions of 256 bytes.
    for (let v = 1; v <= 28; v++) await strata.publish("block", v, "dataset", block(v));
    const [node] = await strata.nodes();
    assert.deepEqual(node!.tiers.map((t) => [t.name, t.kind, t.count, t.used, t.capacity]), [
      ["memory", "memory", 4, 1024, 1024],
      ["file", "file", 8, 2048, 2048],
      ["backing", "backing", 16, 4096, 4096],
    ]);
    assert.equal(node!.fragments, 28);
    assert.equal(node!.placement.name, "fastest-fit");
    const full = await strata.publish("block", 29, "dataset", block(29)).catch((e) => e);
    assert.ok(full instanceof ServerError);
    assert.equal(full.status, 507);
    assert.equal(
      full.message,
      "Node 'local' has no room for 256 bytes of fragment 'dataset' of version 29 of 'block': tier 'memory' holds 1024 of 1024 bytes, tier 'file' holds 2048 of 2048 bytes, tier 'backing' holds 4096 of 4096 bytes",
    );
    // Every spilled version reads back byte for byte, the oldest from the backing tier.
    for (let v = 1; v <= 28; v++) {
      const got = await strata.attach("block", "dataset", { version: v });
      assert.deepEqual(got.field("v"), block(v), `version ${v}`);
    }
    const nodes = await runDeno([...STRATA, "nodes", "--url", server.url]);
    assert.equal(nodes.code, 0, nodes.stderr);
    assert.equal(
      nodes.stdout,
      "local\t28 fragments\t7168 of 7168 bytes\tplacement fastest-fit\n" +
        "  memory\tmemory\t4 copies\t1024 of 1024 bytes\n" +
        "  file\tfile\t8 copies\t2048 of 2048 bytes\tpersistent\n" +
        "  backing\tbacking\t16 copies\t4096 of 4096 bytes\tpersistent\n",
    );
  } finally {
    await server.stop();
    await Deno.remove(server.dataDir, { recursive: true });
  }
});

Deno.test("strata flush writes a version to the backing tier, and a runtime restarted after kill -9 serves it", async () => {
  const first = await startServer();
  const strata = connect(first.url);
  const dataDir = first.dataDir;
  try {
    await strata.createDataset("block", BLOCK, { retention: 4 });
    await strata.publish("block", 1, "dataset", block(1));
    await strata.publish("block", 2, "dataset", block(2));
    const flush = await runDeno([...STRATA, "flush", "block", "1", "--url", first.url]);
    assert.equal(flush.code, 0, flush.stderr);
    assert.deepEqual(JSON.parse(flush.stdout), {
      dataset: "block",
      version: 1,
      tier: "backing",
      copies: 1,
      written: 1,
      bytes: 256,
    });
    const unknown = await strata.flush("block", 9).catch((e) => e);
    assert.equal(unknown.status, 404);
    await first.kill();
    const second = await startServer({ dataDir });
    try {
      const got = await connect(second.url).attach("block", "dataset", { version: 1 });
      assert.deepEqual(got.field("v"), block(1));
      const lost = await connect(second.url).attach("block", "dataset", { version: 2 }).catch((
        e,
      ) => e);
      assert.equal(lost.status, 410);
      assert.equal(
        lost.message,
        "Version 2 of 'block' is lost: fragment 'dataset' was held only in memory and is gone",
      );
      const [node] = await connect(second.url).nodes();
      assert.deepEqual(node!.tiers.map((t) => [t.name, t.count]), [
        ["memory", 0],
        ["file", 0],
        ["backing", 1],
      ]);
    } finally {
      await second.stop();
    }
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("strata serve places with a policy module from its config, and falls back from a broken one", async () => {
  const policies = {
    // Everything to the file tier, reshaped where it is attached.
    "to_file.ts": `export default function place(request) {
  return { copies: [{ node: request.node, tier: "file" }], reshape: "destination" };
}
`,
    "broken.ts": `export default function place(request) {
  return { copies: [{ node: request.node, tier: "nvme" }], reshape: "source" };
}
`,
  };
  for (
    const [policy, tier, fallbacks] of [["to_file.ts", "file", 0], [
      "broken.ts",
      "memory",
      2,
    ]] as const
  ) {
    await Deno.mkdir("tmp", { recursive: true });
    const dataDir = await Deno.makeTempDir({ dir: "tmp" });
    await Deno.writeTextFile(`${dataDir}/${policy}`, policies[policy]);
    const server = await startServer({ dataDir, extra: `placement: ${dataDir}/${policy}\n` });
    const strata = connect(server.url);
    try {
      await strata.createDataset("block", BLOCK);
      for (let v = 1; v <= 2; v++) await strata.publish("block", v, "dataset", block(v));
      const [node] = await strata.nodes();
      assert.equal(node!.placement.name, `${dataDir}/${policy}`);
      assert.equal(node!.placement.fallbacks, fallbacks);
      assert.deepEqual(node!.tiers.filter((t) => t.count > 0).map((t) => t.name), [tier]);
      if (fallbacks > 0) {
        assert.equal(
          node!.placement.lastProblem,
          `Placement policy '${dataDir}/broken.ts' returned tier 'nvme', which node 'local' does not have (it has memory, file, backing) for fragment 'dataset' of version 2 of 'block'; placed by fastest-fit instead`,
        );
      }
      const got = await strata.attach("block", "dataset", { version: 2 });
      assert.deepEqual(got.field("v"), block(2));
    } finally {
      await server.stop();
      await Deno.remove(dataDir, { recursive: true });
    }
  }
});
