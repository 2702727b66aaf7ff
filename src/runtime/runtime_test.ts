import assert from "node:assert/strict";
import { withDir } from "../../tests/_fixtures.ts";
import { LostError, NodeFullError, NotFoundError } from "../errors.ts";
import { openRegistry } from "../registry/registry.ts";
import { FileTier } from "../tiers/file_tier.ts";
import { MemoryTier } from "../tiers/memory_tier.ts";
import { loadPolicy } from "../tiers/load_policy.ts";
import { KIND_DEFAULTS, type TierSpec } from "../tiers/tier_config.ts";
import { TierSet } from "../tiers/tier_set.ts";
import { compileDescription, fragmentLayout } from "../ddl/mod.ts";
import { Runtime } from "./runtime.ts";

const GRID = `dataset grid { var t [4, 4]float32 }
fragment rows(r0, r1) { var t = t[r0:r1, :] }
fragment cols { var t [j, i] = t[i, j] }`;

/** A runtime with a registry and file tier on disk under `dir`, as `strata serve` builds it. */
async function start(dir: string) {
  const registry = await openRegistry({ path: `${dir}/registry.kv` });
  const memory = new MemoryTier("memory", 1 << 20);
  const file = await FileTier.open("file", `${dir}/file`, 1 << 20);
  const tiers = new TierSet({
    node: "n1",
    tiers: [
      {
        tier: memory,
        spec: { name: "memory", kind: "memory", capacity: 1 << 20, ...KIND_DEFAULTS.memory },
      },
      {
        tier: file,
        spec: { name: "file", kind: "file", capacity: 1 << 20, ...KIND_DEFAULTS.file },
      },
    ],
  });
  return { registry, memory, file, runtime: new Runtime({ node: "n1", names: registry, tiers }) };
}

const grid = () => new Uint8Array(Float32Array.from({ length: 16 }, (_, i) => i).buffer);

Deno.test("Runtime after a restart serves durable versions byte for byte and names lost ones", async () => {
  await withDir(async (dir) => {
    const a = await start(dir);
    await a.registry.createDataset({ name: "kept", description: GRID, durable: true });
    await a.registry.createDataset({ name: "fleeting", description: GRID });
    for (const name of ["kept", "fleeting"]) {
      await a.runtime.publish({
        dataset: name,
        version: 1,
        fragment: "rows",
        bindings: { r0: 0, r1: 2 },
        bytes: grid().slice(0, 32),
      });
      await a.runtime.publish({
        dataset: name,
        version: 1,
        fragment: "rows",
        bindings: { r0: 2, r1: 4 },
        bytes: grid().slice(32),
      });
    }
    const before = await a.runtime.attach({
      dataset: "kept",
      version: "latest",
      fragment: "cols",
      bindings: {},
    });
    a.registry.close();

    const b = await start(dir);
    try {
      const after = await b.runtime.attach({
        dataset: "kept",
        version: "latest",
        fragment: "cols",
        bindings: {},
      });
      assert.deepEqual(after.bytes, before.bytes);
      assert.deepEqual([...new Float32Array(after.bytes.buffer).slice(0, 4)], [0, 4, 8, 12]);
      await assert.rejects(
        b.runtime.attach({ dataset: "fleeting", version: 1, fragment: "cols", bindings: {} }),
        (e) =>
          e instanceof LostError &&
          e.message ===
            "Version 1 of 'fleeting' is lost: fragment 'rows (r0=0,r1=2)', 'rows (r0=2,r1=4)' was held only in memory and is gone",
      );
    } finally {
      b.registry.close();
    }
  });
});

Deno.test("Runtime.attach() refuses bytes whose checksum no longer matches, as a lost copy", async () => {
  await withDir(async (dir) => {
    const a = await start(dir);
    try {
      await a.registry.createDataset({ name: "kept", description: GRID, durable: true });
      await a.runtime.publish({
        dataset: "kept",
        version: 1,
        fragment: "dataset",
        bindings: {},
        bytes: grid(),
      });
      a.registry.close();
      // Damage the file copy behind the runtime's back, then restart.
      const [entry] = [...Deno.readDirSync(`${dir}/file`)];
      const path = `${dir}/file/${entry!.name}`;
      const damaged = Deno.readFileSync(path);
      damaged[5] = damaged[5]! ^ 0xff;
      Deno.writeFileSync(path, damaged);
      const b = await start(dir);
      try {
        await assert.rejects(
          b.runtime.attach({ dataset: "kept", version: 1, fragment: "cols", bindings: {} }),
          (e) =>
            e instanceof LostError && e.code === "gone" &&
            e.message.includes("does not match its record (Checksum mismatch"),
        );
      } finally {
        b.registry.close();
      }
    } finally {
      a.registry.close();
    }
  });
});

Deno.test("Runtime.commit() frees the bytes of retired versions on every tier", async () => {
  await withDir(async (dir) => {
    const a = await start(dir);
    try {
      await a.registry.createDataset({
        name: "kept",
        description: GRID,
        durable: true,
        retention: 1,
      });
      await a.runtime.publish({
        dataset: "kept",
        version: 1,
        fragment: "dataset",
        bindings: {},
        bytes: grid(),
      });
      assert.equal(a.file.info().count, 1);
      await a.runtime.publish({
        dataset: "kept",
        version: 2,
        fragment: "rows",
        bindings: { r0: 0, r1: 1 },
        bytes: grid().slice(0, 16),
      });
      const { retired } = await a.runtime.commit("kept", 2);
      assert.deepEqual(retired, [1]);
      assert.equal(a.file.info().count, 1);
      assert.equal(a.file.info().used, 16);
    } finally {
      a.registry.close();
    }
  });
});

Deno.test("Runtime frees retired bytes when a publish or a batch commits a newer version", async () => {
  await withDir(async (dir) => {
    const a = await start(dir);
    try {
      await a.registry.createDataset({ name: "auto", description: GRID, retention: 1 });
      const whole = { dataset: "auto", fragment: "dataset", bindings: {} };
      await a.runtime.publish({ ...whole, version: 1, bytes: grid() });
      assert.equal(a.memory.info().count, 1);
      // Version 2 commits itself on this publish, and retires version 1.
      const { committed } = await a.runtime.publish({ ...whole, version: 2, bytes: grid() });
      assert.equal(committed, true);
      await a.registry.drain();
      await new Promise((r) => setTimeout(r, 0));
      assert.equal(a.memory.info().count, 1);
      // A batch commit retires version 2 in turn.
      await a.runtime.publish({
        dataset: "auto",
        version: 3,
        fragment: "rows",
        bindings: { r0: 0, r1: 1 },
        bytes: grid().slice(0, 16),
      });
      const [result] = await a.registry.batch([{ op: "commit", dataset: "auto", version: 3 }]);
      assert.ok(result !== undefined && "ok" in result, JSON.stringify(result));
      await new Promise((r) => setTimeout(r, 0));
      assert.equal(a.memory.info().count, 1);
      assert.equal(a.memory.info().used, 16);
    } finally {
      a.registry.close();
    }
  });
});

Deno.test("Runtime.publish() keeps nothing when the name server refuses the copy", async () => {
  await withDir(async (dir) => {
    const a = await start(dir);
    try {
      await a.registry.createDataset({ name: "kept", description: GRID, durable: true });
      await a.runtime.publish({
        dataset: "kept",
        version: 1,
        fragment: "dataset",
        bindings: {},
        bytes: grid(),
      });
      await assert.rejects(
        a.runtime.publish({
          dataset: "kept",
          version: 1,
          fragment: "rows",
          bindings: { r0: 0, r1: 1 },
          bytes: grid().slice(0, 16),
        }),
      );
      assert.equal(a.file.info().count, 1);
      const again = await a.runtime.attach({
        dataset: "kept",
        version: 1,
        fragment: "dataset",
        bindings: {},
      });
      assert.deepEqual(again.bytes, grid());
    } finally {
      a.registry.close();
    }
  });
});

// Tiers and placement

/** A 16-byte grid: each version fits a 40-byte memory tier twice. */
const SMALL = `dataset small { var t [4]float32 }`;

const spec = (name: string, kind: TierSpec["kind"], capacity: number): TierSpec => ({
  name,
  kind,
  capacity,
  ...KIND_DEFAULTS[kind],
});

/** A runtime over memory (40 B), file (64 B) and backing (1 KiB) tiers under `dir`, as `strata serve` opens them. */
async function startTiered(dir: string, policy?: string, log?: (m: string) => void) {
  const registry = await openRegistry({ path: `${dir}/registry.kv` });
  const tiers = await TierSet.open(
    [spec("memory", "memory", 40), spec("file", "file", 64), spec("backing", "backing", 1024)],
    {
      dataDir: dir,
      node: "n1",
      ...(policy === undefined
        ? {}
        : { policy: await loadPolicy(policy, { log: log ?? (() => {}) }) }),
      ...(log === undefined ? {} : { log }),
    },
  );
  return { registry, tiers, runtime: new Runtime({ node: "n1", names: registry, tiers }) };
}

const vector = (v: number) => new Uint8Array(Float32Array.from([v, v + 1, v + 2, v + 3]).buffer);

async function sourcesOf(registry: Awaited<ReturnType<typeof openRegistry>>, version: number) {
  const found = await registry.attachFragments({
    dataset: "small",
    version,
    fragment: "dataset",
    bindings: {},
  });
  return found.sources.map((s) => s.tier);
}

Deno.test("Runtime.publish() spills older versions down the tiers with no loss, and the registry follows", async () => {
  await withDir(async (dir) => {
    const a = await startTiered(dir);
    try {
      await a.registry.createDataset({ name: "small", description: SMALL, retention: 10 });
      const put = (version: number) =>
        a.runtime.publish({
          dataset: "small",
          version,
          fragment: "dataset",
          bindings: {},
          bytes: vector(version),
        });
      for (let v = 1; v <= 6; v++) {
        const { record } = await put(v);
        assert.equal(record.tier, "memory");
      }
      // Memory holds versions 5 and 6; file holds 1 to 4 (64 bytes): the oldest went first.
      assert.deepEqual(a.tiers.usage().map((u) => [u.name, u.count]), [["memory", 2], ["file", 4], [
        "backing",
        0,
      ]]);
      assert.deepEqual(await sourcesOf(a.registry, 1), ["file"]);
      assert.deepEqual(await sourcesOf(a.registry, 6), ["memory"]);
      // A seventh version demotes version 1 twice: memory -> file -> backing.
      await put(7);
      assert.deepEqual(await sourcesOf(a.registry, 1), ["backing"]);
      for (let v = 1; v <= 7; v++) {
        const got = await a.runtime.attach({
          dataset: "small",
          version: v,
          fragment: "dataset",
          bindings: {},
        });
        assert.deepEqual(got.bytes, vector(v), `version ${v}`);
      }
      // A restart finds the persistent copies; versions only in memory are lost, by name.
      a.registry.close();
      const b = await startTiered(dir);
      try {
        const again = await b.runtime.attach({
          dataset: "small",
          version: 1,
          fragment: "dataset",
          bindings: {},
        });
        assert.deepEqual(again.bytes, vector(1));
        await assert.rejects(
          b.runtime.attach({ dataset: "small", version: 7, fragment: "dataset", bindings: {} }),
          (e) =>
            e instanceof LostError &&
            e.message ===
              "Version 7 of 'small' is lost: fragment 'dataset' was held only in memory and is gone",
        );
      } finally {
        b.registry.close();
      }
    } finally {
      a.registry.close();
    }
  });
});

Deno.test("Runtime.attach() of copies on a file tier answers buffers of its own, whatever callers do with them", async () => {
  await withDir(async (dir) => {
    const a = await startTiered(dir);
    try {
      await a.registry.createDataset({ name: "small", description: SMALL, retention: 10 });
      for (let v = 1; v <= 6; v++) {
        await a.runtime.publish({
          dataset: "small",
          version: v,
          fragment: "dataset",
          bindings: {},
          bytes: vector(v),
        });
      }
      assert.deepEqual(await sourcesOf(a.registry, 1), ["file"]);
      // Read into scratch buffers and copied out: a caller scribbling over
      // one answer changes no later one.
      const req = { dataset: "small", fragment: "dataset", bindings: {} };
      for (let round = 0; round < 3; round++) {
        for (const v of [1, 2, 3, 4]) {
          const got = await a.runtime.attach({ ...req, version: v });
          assert.deepEqual(got.bytes, vector(v), `round ${round}, version ${v}`);
          got.bytes.fill(0xee);
        }
      }
      const into = new Uint8Array(16);
      await a.runtime.attach({ ...req, version: 2, into });
      assert.deepEqual(into, vector(2));
    } finally {
      a.registry.close();
    }
  });
});

Deno.test("Runtime.publish() spills between two memory tiers and the registry names the slower one", async () => {
  const registry = await openRegistry({ path: ":memory:" });
  const hbm = new MemoryTier("hbm", 32);
  const dram = new MemoryTier("dram", 1024);
  const tiers = new TierSet({
    node: "n1",
    tiers: [
      { tier: hbm, spec: spec("hbm", "memory", 32) },
      { tier: dram, spec: spec("dram", "memory", 1024) },
    ],
  });
  const runtime = new Runtime({ node: "n1", names: registry, tiers });
  try {
    await registry.createDataset({ name: "small", description: SMALL, retention: 10 });
    for (let v = 1; v <= 4; v++) {
      const { record } = await runtime.publish({
        dataset: "small",
        version: v,
        fragment: "dataset",
        bindings: {},
        bytes: vector(v),
      });
      assert.equal(record.tier, "hbm");
    }
    // hbm holds two 16-byte versions: 1 and 2 went down to dram, and the registry says so.
    assert.deepEqual(hbm.list().map((e) => e.key).sort(), ["small/3/dataset/", "small/4/dataset/"]);
    assert.deepEqual(await sourcesOf(registry, 1), ["dram"]);
    assert.deepEqual(await sourcesOf(registry, 2), ["dram"]);
    assert.deepEqual(await sourcesOf(registry, 4), ["hbm"]);
    for (let v = 1; v <= 4; v++) {
      const got = await runtime.attach({
        dataset: "small",
        version: v,
        fragment: "dataset",
        bindings: {},
      });
      assert.deepEqual(got.bytes, vector(v), `version ${v}`);
    }
  } finally {
    await runtime.close();
    registry.close();
  }
});

Deno.test("Runtime.publish() throws NodeFullError when no tier can make room, and registers nothing", async () => {
  await withDir(async (dir) => {
    const a = await startTiered(dir);
    try {
      await a.registry.createDataset({ name: "small", description: SMALL, retention: 100 });
      let v = 0;
      const put = () =>
        a.runtime.publish({
          dataset: "small",
          version: ++v,
          fragment: "dataset",
          bindings: {},
          bytes: vector(v),
        });
      // 40 + 64 + 1024 bytes hold 70 copies of 16 bytes.
      for (let i = 0; i < 70; i++) await put();
      await assert.rejects(
        put(),
        (e) =>
          e instanceof NodeFullError &&
          e.message ===
            "Node 'n1' has no room for 16 bytes of fragment 'dataset' of version 71 of 'small': tier 'memory' holds 32 of 40 bytes, tier 'file' holds 64 of 64 bytes, tier 'backing' holds 1024 of 1024 bytes",
      );
      assert.equal((await a.registry.listVersions("small")).length, 70);
      assert.equal(a.tiers.holds("small/71/dataset/"), false);
      const first = await a.runtime.attach({
        dataset: "small",
        version: 1,
        fragment: "dataset",
        bindings: {},
      });
      assert.deepEqual(first.bytes, vector(1));
    } finally {
      a.registry.close();
    }
  });
});

Deno.test("Runtime.flush() writes a version to the backing tier, and a restarted runtime serves it", async () => {
  await withDir(async (dir) => {
    const a = await startTiered(dir);
    try {
      await a.registry.createDataset({ name: "small", description: SMALL, retention: 4 });
      await a.runtime.publish({
        dataset: "small",
        version: 1,
        fragment: "dataset",
        bindings: {},
        bytes: vector(1),
      });
      await a.runtime.publish({
        dataset: "small",
        version: 2,
        fragment: "dataset",
        bindings: {},
        bytes: vector(2),
      });
      assert.deepEqual(await a.runtime.flush("small", 1), {
        dataset: "small",
        version: 1,
        tier: "backing",
        copies: 1,
        written: 1,
        bytes: 16,
      });
      assert.equal((await a.runtime.flush("small", 1)).written, 0);
      assert.deepEqual(await sourcesOf(a.registry, 1), ["backing"]);
      await assert.rejects(
        a.runtime.flush("small", 3),
        (e) =>
          e instanceof NotFoundError &&
          e.message === "Version 3 of 'small' has no copies on node 'n1'",
      );
      await assert.rejects(a.runtime.flush("small", 1, { tier: "memory" }), {
        message: "Cannot flush to tier 'memory': it does not keep copies across restarts",
      });
      await assert.rejects(a.runtime.flush("small", 1, { tier: "tape" }), {
        message:
          "Cannot flush to tier 'tape': node 'n1' has no such tier (it has memory, file, backing)",
      });
      a.registry.close();
      const b = await startTiered(dir);
      try {
        const got = await b.runtime.attach({
          dataset: "small",
          version: 1,
          fragment: "dataset",
          bindings: {},
        });
        assert.deepEqual(got.bytes, vector(1));
        await assert.rejects(
          b.runtime.attach({ dataset: "small", version: 2, fragment: "dataset", bindings: {} }),
          LostError,
        );
        // Retention frees flushed copies too.
        for (let v = 3; v <= 6; v++) {
          await b.runtime.publish({
            dataset: "small",
            version: v,
            fragment: "dataset",
            bindings: {},
            bytes: vector(v),
          });
        }
        await b.registry.drain();
        await new Promise((r) => setTimeout(r, 0));
        assert.equal(b.tiers.holds("small/1/dataset/"), false);
        assert.equal(b.tiers.usage()[2]!.used, 0);
      } finally {
        b.registry.close();
      }
    } finally {
      a.registry.close();
    }
  });
});

Deno.test("Runtime places copies with a policy module loaded from a file, and says where reshapes run", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(
      `${dir}/backing_first.ts`,
      `export default function place(request) {
  return { copies: [{ node: request.node, tier: "backing" }], reshape: "destination" };
}
`,
    );
    const a = await startTiered(dir, `${dir}/backing_first.ts`);
    try {
      assert.equal(a.tiers.policy.name, `${dir}/backing_first.ts`);
      await a.registry.createDataset({ name: "small", description: SMALL });
      const { record } = await a.runtime.publish({
        dataset: "small",
        version: 1,
        fragment: "dataset",
        bindings: {},
        bytes: vector(1),
      });
      assert.equal(record.tier, "backing");
      assert.deepEqual(
        a.runtime.placementOf({ dataset: "small", version: 1, fragment: "dataset", bindings: {} }),
        {
          tiers: ["backing"],
          reshape: "destination",
        },
      );
      assert.equal(a.tiers.policy.fallbacks, 0);
    } finally {
      a.registry.close();
    }
  });
});

Deno.test("Runtime records no reshape site for a copy fastest-fit placed: each attach decides", async () => {
  await withDir(async (dir) => {
    const a = await startTiered(dir);
    try {
      await a.registry.createDataset({ name: "small", description: SMALL });
      const copy = { dataset: "small", version: 1, fragment: "dataset", bindings: {} };
      const { record } = await a.runtime.publish({ ...copy, bytes: vector(1) });
      assert.equal("reshape" in record, false);
      assert.deepEqual(a.runtime.placementOf(copy), { tiers: ["memory"], reshape: "auto" });
      const found = await a.registry.attachFragments(copy);
      assert.equal(found.sources[0]!.reshape, undefined);
    } finally {
      a.registry.close();
    }
  });
});

Deno.test("Runtime reports a broken policy module and places with fastest-fit, losing nothing", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(
      `${dir}/broken.ts`,
      `export default function place(request) {
  if (request.fragment.version % 2 === 0) throw new Error("even versions confuse me");
  return { copies: [{ node: request.node, tier: "nvme" }], reshape: "source" };
}
`,
    );
    await Deno.writeTextFile(`${dir}/not_a_policy.ts`, "export const place = 42;\n");
    const logged: string[] = [];
    const notPolicy = await loadPolicy(`${dir}/not_a_policy.ts`, { log: (m) => logged.push(m) });
    assert.equal(notPolicy.name, "fastest-fit");
    assert.deepEqual(logged, [
      `Cannot load placement policy '${dir}/not_a_policy.ts': expected a default export (or an export 'place') that is a function, found number; using fastest-fit`,
    ]);
    logged.length = 0;
    const a = await startTiered(dir, `${dir}/broken.ts`, (m) => logged.push(m));
    try {
      await a.registry.createDataset({ name: "small", description: SMALL, retention: 10 });
      for (let v = 1; v <= 4; v++) {
        const { record } = await a.runtime.publish({
          dataset: "small",
          version: v,
          fragment: "dataset",
          bindings: {},
          bytes: vector(v),
        });
        assert.equal(record.tier, "memory");
      }
      assert.deepEqual(logged, [
        `Placement policy '${dir}/broken.ts' returned tier 'nvme', which node 'n1' does not have (it has memory, file, backing) for fragment 'dataset' of version 1 of 'small'; placed by fastest-fit instead`,
        `Placement policy '${dir}/broken.ts' threw Error: even versions confuse me for fragment 'dataset' of version 2 of 'small'; placed by fastest-fit instead`,
      ]);
      assert.equal(a.tiers.policy.fallbacks, 4);
      for (let v = 1; v <= 4; v++) {
        const got = await a.runtime.attach({
          dataset: "small",
          version: v,
          fragment: "dataset",
          bindings: {},
        });
        assert.deepEqual(got.bytes, vector(v));
      }
    } finally {
      a.registry.close();
    }
  });
});

Deno.test("Runtime.attachLayout() gathers a layout from another description of the same variables", async () => {
  await withDir(async (dir) => {
    const a = await start(dir);
    try {
      await a.registry.createDataset({ name: "grid", description: GRID });
      const bytes = grid();
      await a.runtime.publish({
        dataset: "grid",
        version: 1,
        fragment: "rows",
        bindings: { r0: 0, r1: 2 },
        bytes: bytes.slice(0, 32),
      });
      await a.runtime.publish({
        dataset: "grid",
        version: 1,
        fragment: "rows",
        bindings: { r0: 2, r1: 4 },
        bytes: bytes.slice(32),
      });
      // Column 1 as float64, from a description the dataset was not created with.
      const other = compileDescription(
        `${GRID}\nfragment col(c) { var t [i] float64 = t[i, c] }`,
      );
      const layout = fragmentLayout(other, "col", { c: 1 });
      const got = await a.runtime.attachLayout({ dataset: "grid", version: "latest" }, layout);
      assert.equal(got.version, 1);
      assert.deepEqual([...new Float64Array(got.bytes.buffer)], [1, 5, 9, 13]);
    } finally {
      a.registry.close();
    }
  });
});
