import assert from "node:assert/strict";
import { ChecksumError, LostError } from "../errors.ts";
import { openRegistry } from "../registry/registry.ts";
import { FileTier } from "../tiers/file_tier.ts";
import { MemoryTier } from "../tiers/memory_tier.ts";
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
  return {
    registry,
    memory,
    file,
    runtime: new Runtime({ node: "n1", names: registry, memory, file }),
  };
}

async function withDir(fn: (dir: string) => Promise<void>) {
  await Deno.mkdir("tmp", { recursive: true });
  const dir = await Deno.makeTempDir({ dir: "tmp" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
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
            "Version 1 of 'fleeting' is lost: fragment 'rows' was held only in memory and is gone",
      );
    } finally {
      b.registry.close();
    }
  });
});

Deno.test("Runtime.attach() refuses bytes whose checksum no longer matches", async () => {
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
          ChecksumError,
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
