/**
 * Registry micro benchmark, in process (no HTTP): publishes per second with
 * 1, 16, 64 and 256 concurrent callers, each write committed on its own vs
 * group commit; one burst of 100 000 one-cell publishes in index and in
 * random order; and attach lookups per second; on a KV file on disk under
 * ./tmp. The raw Deno KV commit rates on the same disk come first: they are
 * the ceiling. Prints Markdown; docs/registry.md quotes it.
 *
 * Run: `deno run --allow-read=. --allow-write=./tmp bench/registry_micro.ts [seconds]`
 *
 * @module
 */

import { cellCopy } from "./_cells.ts";
import { openRegistry, type Registry } from "../src/registry/mod.ts";

const SECONDS = Number(Deno.args[0] ?? 1.5);
const CALLERS = [1, 16, 64, 256];
const CELLS = "dataset cells { var t [1073741824]int8 }\nfragment cell(r) { var t = t[r:r + 1] }";

async function withDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  await Deno.mkdir("tmp", { recursive: true });
  const dir = await Deno.makeTempDir({ dir: "tmp", prefix: "registry_micro_" });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Runs `callers` loops of `op` for SECONDS; returns operations per second. */
async function rate(callers: number, op: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  let done = 0;
  const start = performance.now();
  const deadline = start + SECONDS * 1000;
  await Promise.all(Array.from({ length: callers }, async () => {
    while (performance.now() < deadline) {
      await op(next++);
      done++;
    }
  }));
  return done / ((performance.now() - start) / 1000);
}

async function kvBaseline(): Promise<{ single: number; hundred: number }> {
  return await withDir(async (dir) => {
    const kv = await Deno.openKv(`${dir}/raw.kv`);
    try {
      const single = await rate(1, (i) => kv.set(["k", i], i));
      const hundred = 100 * await rate(1, async (i) => {
        const op = kv.atomic();
        for (let k = 0; k < 100; k++) op.set(["m", i, k], k);
        await op.commit();
      });
      return { single, hundred };
    } finally {
      kv.close();
    }
  });
}

async function publishRate(
  callers: number,
  group: boolean,
): Promise<{ ops: number; perCommit: number }> {
  return await withDir(async (dir) => {
    const reg = await openRegistry({ path: `${dir}/registry.kv`, groupCommit: { group } });
    try {
      await reg.createDataset({ name: "cells", description: CELLS });
      const before = reg.stats.commits;
      // Publishes, not writes: the copies of one version held for a group go in one write (a pack).
      let published = 0;
      const ops = await rate(callers, async (r) => {
        await reg.publishFragment(cellCopy("cells", r));
        published++;
      });
      return { ops, perCommit: published / (reg.stats.commits - before) };
    } finally {
      reg.close();
    }
  });
}

/** One burst of `count` concurrent one-cell publishes into one version; publishes/s and atomics. */
async function burst(count: number, random: boolean): Promise<{ ops: number; commits: number }> {
  return await withDir(async (dir) => {
    const reg = await openRegistry({ path: `${dir}/registry.kv` });
    try {
      await reg.createDataset({ name: "cells", description: CELLS });
      const cells = Array.from({ length: count }, (_, i) => i);
      let seed = 1;
      for (let i = count - 1; random && i > 0; i--) {
        seed = (seed * 1103515245 + 12345) % 2147483648;
        const j = seed % (i + 1);
        [cells[i], cells[j]] = [cells[j]!, cells[i]!];
      }
      const before = reg.stats.commits;
      const start = performance.now();
      await Promise.all(cells.map((r) => reg.publishFragment(cellCopy("cells", r))));
      return {
        ops: count / ((performance.now() - start) / 1000),
        commits: reg.stats.commits - before,
      };
    } finally {
      reg.close();
    }
  });
}

async function lookupRate(fragments: number, callers: number): Promise<number> {
  return await withDir(async (dir) => {
    const reg: Registry = await openRegistry({ path: `${dir}/registry.kv` });
    try {
      await reg.createDataset({
        name: "grid",
        description: `dataset grid { var t [${fragments * 4}, 64]float64 }
fragment rows(r0, r1) { var t = t[r0:r1, :] }`,
      });
      await Promise.all(Array.from({ length: fragments }, (_, k) =>
        reg.publishFragment({
          dataset: "grid",
          version: 1,
          fragment: "rows",
          bindings: { r0: k * 4, r1: k * 4 + 4 },
          node: `rank${k}`,
          tier: "memory",
          byteLength: 4 * 64 * 8,
          checksum: 0,
        })));
      // A restart reads blocks of another decomposition: 6 rows, straddling two publishers.
      return await rate(callers, (i) => {
        const r0 = (i * 7) % (fragments * 4 - 6);
        return reg.attachFragments({
          dataset: "grid",
          version: "latest",
          fragment: "rows",
          bindings: { r0, r1: r0 + 6 },
        });
      });
    } finally {
      reg.close();
    }
  });
}

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");

if (import.meta.main) {
  console.log(
    `# Registry micro benchmark\n\nDeno ${Deno.version.deno}, ${navigator.hardwareConcurrency} cores, KV on disk under ./tmp, ${SECONDS} s per point.\n`,
  );
  const base = await kvBaseline();
  console.log(
    `Raw Deno KV: ${fmt(base.single)} single-mutation commits/s; ${
      fmt(base.hundred)
    } mutations/s at 100 per atomic.\n`,
  );
  console.log(
    "| callers | publishes/s, one commit each | publishes/s, group commit | publishes per atomic (group) |",
  );
  console.log("| ---: | ---: | ---: | ---: |");
  for (const callers of CALLERS) {
    const single = await publishRate(callers, false);
    const group = await publishRate(callers, true);
    console.log(
      `| ${callers} | ${fmt(single.ops)} | ${fmt(group.ops)} | ${group.perCommit.toFixed(1)} |`,
    );
  }
  console.log("\n| burst of 100 000 publishes | publishes/s | atomics |");
  console.log("| --- | ---: | ---: |");
  for (const random of [false, true]) {
    const b = await burst(100_000, random);
    console.log(`| ${random ? "random order" : "index order"} | ${fmt(b.ops)} | ${b.commits} |`);
  }
  console.log(
    "\n| copies in the version | attach lookups/s, 1 caller | attach lookups/s, 64 callers |",
  );
  console.log("| ---: | ---: | ---: |");
  for (const fragments of [16, 256, 2048]) {
    console.log(
      `| ${fragments} | ${fmt(await lookupRate(fragments, 1))} | ${
        fmt(await lookupRate(fragments, 64))
      } |`,
    );
  }
}
