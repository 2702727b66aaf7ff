import assert from "node:assert/strict";
import { withDir } from "../../tests/_fixtures.ts";
import { NodeFullError, StrataError } from "../errors.ts";
import {
  FileTier,
  KIND_DEFAULTS,
  MemoryTier,
  type NamedPolicy,
  type PlacedFragment,
  ShmTier,
  type Tier,
  type TierEntry,
  type TierInfo,
  TierSet,
  type TierSpec,
} from "./mod.ts";

function spec(name: string, kind: TierSpec["kind"], capacity: number): TierSpec {
  return { name, kind, capacity, ...KIND_DEFAULTS[kind] };
}

function fragment(version: number, byteLength: number, durable = false): PlacedFragment {
  return {
    dataset: "d",
    version,
    fragment: "dataset",
    bindings: {},
    byteLength,
    durable,
    consumers: [],
  };
}

const bytesOf = (n: number, fill: number) => new Uint8Array(n).fill(fill);

/** Memory (100 bytes) over a file tier (250 bytes) under `dir`. */
async function twoTiers(
  dir: string,
  options: { policy?: NamedPolicy; log?: (m: string) => void } = {},
) {
  const memory = new MemoryTier("memory", 100);
  const file = await FileTier.open("file", `${dir}/file`, 250);
  return new TierSet({
    node: "n1",
    tiers: [
      { tier: memory, spec: spec("memory", "memory", 100) },
      { tier: file, spec: spec("file", "file", 250) },
    ],
    ...options,
  });
}

Deno.test("TierSet.store() spills the least recently used copies down and loses no byte", async () => {
  await withDir(async (dir) => {
    const tiers = await twoTiers(dir);
    for (let v = 1; v <= 5; v++) await tiers.store(`d/${v}`, bytesOf(40, v), fragment(v, 40));
    // Reading version 1 makes it recent: version 2 is now the oldest copy in memory.
    assert.deepEqual(tiers.tiersOf("d/1"), ["file"]);
    assert.deepEqual((await tiers.get("d/1"))?.tier, "file");
    await tiers.store("d/6", bytesOf(40, 6), fragment(6, 40));
    assert.deepEqual(tiers.tiersOf("d/6"), ["memory"]);
    const usage = tiers.usage();
    assert.ok(usage.every((u) => u.used <= u.capacity));
    assert.equal(usage[0]!.used + usage[1]!.used, 6 * 40);
    for (let v = 1; v <= 6; v++) {
      assert.deepEqual((await tiers.get(`d/${v}`))?.bytes, bytesOf(40, v), `version ${v}`);
    }
  });
});

Deno.test("TierSet.get() keeps recently read copies in the fast tier", async () => {
  await withDir(async (dir) => {
    const tiers = await twoTiers(dir);
    await tiers.store("a", bytesOf(50, 1), fragment(1, 50));
    await tiers.store("b", bytesOf(50, 2), fragment(2, 50));
    await tiers.get("a");
    await tiers.store("c", bytesOf(50, 3), fragment(3, 50));
    assert.deepEqual(tiers.tiersOf("a"), ["memory"]);
    assert.deepEqual(tiers.tiersOf("b"), ["file"]);
  });
});

Deno.test("TierSet.store() throws NodeFullError naming every tier when nothing can make room", async () => {
  await withDir(async (dir) => {
    const tiers = await twoTiers(dir);
    for (let v = 1; v <= 8; v++) await tiers.store(`d/${v}`, bytesOf(40, v), fragment(v, 40));
    await assert.rejects(
      tiers.store("d/9", bytesOf(40, 9), fragment(9, 40)),
      (e) =>
        e instanceof NodeFullError && e.code === "insufficient_storage" &&
        e.message ===
          "Node 'n1' has no room for 40 bytes of fragment 'dataset' of version 9 of 'd': tier 'memory' holds 80 of 100 bytes, tier 'file' holds 240 of 250 bytes",
    );
    assert.equal(tiers.holds("d/9"), false);
    for (let v = 1; v <= 8; v++) {
      assert.deepEqual((await tiers.get(`d/${v}`))?.bytes, bytesOf(40, v));
    }
  });
});

Deno.test("TierSet.store() keeps a durable copy on a persistent tier, with a memory copy that spills by dropping", async () => {
  await withDir(async (dir) => {
    const tiers = await twoTiers(dir);
    const first = await tiers.store("k1", bytesOf(60, 1), fragment(1, 60, true));
    assert.deepEqual(first.tiers, ["memory", "file"]);
    assert.equal(first.primary, "file");
    await tiers.store("k2", bytesOf(60, 2), fragment(2, 60, true));
    // The memory copy of k1 made way without a move: the file tier holds it.
    assert.deepEqual(tiers.tiersOf("k1"), ["file"]);
    assert.deepEqual(tiers.tiersOf("k2"), ["memory", "file"]);
    await assert.rejects(
      tiers.store("k3", bytesOf(200, 3), fragment(3, 200, true)),
      (e) => e instanceof NodeFullError && e.message.includes("tier 'file' holds 120 of 250 bytes"),
    );
    await assert.rejects(
      tiers.store("k4", bytesOf(300, 4), fragment(4, 300, true)),
      (e) =>
        e instanceof NodeFullError &&
        e.message ===
          "Node 'n1' has no room for 300 bytes of fragment 'dataset' of version 4 of 'd': a durable fragment needs a persistent tier that can hold it, tier 'memory' holds 60 of 100 bytes, tier 'file' holds 120 of 250 bytes",
    );
  });
});

const policy = (name: string, place: NamedPolicy["place"]): NamedPolicy => ({ name, place });

Deno.test("TierSet reports a policy that throws or answers wrongly, and places with the default", async () => {
  await withDir(async (dir) => {
    const cases: [NamedPolicy["place"], string][] = [
      [() => {
        throw new RangeError("no idea");
      }, "threw RangeError: no idea"],
      [
        () => ({ copies: [{ node: "n1", tier: "nvme" }], reshape: "source" }),
        "returned tier 'nvme', which node 'n1' does not have (it has memory, file)",
      ],
      [
        () => ({ copies: [{ node: "n2", tier: "memory" }], reshape: "source" }),
        "returned node 'n2', which is not one it was offered (n1)",
      ],
      [
        () => ({ copies: [{ node: "n1", tier: "memory" }] }) as never,
        "returned reshape undefined: expected 'source', 'destination' or 'auto'",
      ],
      [
        () => "memory" as never,
        `returned "memory": expected { copies: [{ node, tier }, ...], reshape: 'source' | 'destination' | 'auto' }`,
      ],
      [
        () => ({ copies: [{ node: "n1", tier: "memory" }], reshape: "source" }),
        "returned tier 'memory' of node 'n1', which is full: capacity 100 bytes, 0 used, room for 100 after spilling, 120 requested",
      ],
    ];
    for (const [place, problem] of cases) {
      const logged: string[] = [];
      const tiers = await twoTiers(`${dir}/${crypto.randomUUID()}`, {
        policy: policy("custom", place),
        log: (m) => logged.push(m),
      });
      const stored = await tiers.store("k", bytesOf(120, 7), fragment(1, 120));
      assert.equal(stored.policy, "fastest-fit");
      assert.deepEqual(stored.tiers, ["file"]);
      assert.deepEqual(logged, [
        `Placement policy 'custom' ${problem} for fragment 'dataset' of version 1 of 'd'; placed by fastest-fit instead`,
      ]);
      await tiers.store("k2", bytesOf(120, 8), fragment(2, 120));
      assert.equal(logged.length, 1, "a repeated fault is counted, not logged again");
      assert.equal(tiers.policy.fallbacks, 2);
      assert.deepEqual((await tiers.get("k"))?.bytes, bytesOf(120, 7));
    }
  });
});

Deno.test("TierSet falls back when a policy's tier cannot make room by spilling", async () => {
  await withDir(async (dir) => {
    const logged: string[] = [];
    // Always memory: fine until a durable copy pins... here, until spilling has nowhere to go.
    const tiers = await twoTiers(dir, {
      policy: policy(
        "memory-only",
        () => ({
          copies: [{ node: "n1", tier: "memory" }, { node: "n1", tier: "file" }],
          reshape: "source",
        }),
      ),
      log: (m) => logged.push(m),
    });
    await tiers.store("a", bytesOf(90, 1), fragment(1, 90));
    await tiers.store("b", bytesOf(90, 2), fragment(2, 90));
    // Two copies of 90 on the 250-byte file tier leave no room to demote another.
    await tiers.store("c", bytesOf(90, 3), fragment(3, 90));
    assert.equal(tiers.policy.fallbacks, 1);
    assert.match(
      logged[0]!,
      /^Placement policy 'memory-only' chose tier '(memory|file)', which could not make room even by spilling/,
    );
    for (const [k, v] of [["a", 1], ["b", 2], ["c", 3]] as const) {
      assert.deepEqual((await tiers.get(k))?.bytes, bytesOf(90, v));
    }
  });
});

/**
 * A real tier that checks the spill invariant: when a copy is deleted from
 * it, another tier must hold that key, unless the key was freed.
 */
class Audited implements Tier {
  readonly name: string;
  constructor(
    readonly inner: Tier,
    readonly peers: Tier[],
    readonly freed: Set<string>,
    readonly violations: string[],
  ) {
    this.name = inner.name;
  }
  put(key: string, bytes: Uint8Array) {
    return this.inner.put(key, bytes);
  }
  get(key: string) {
    return this.inner.get(key);
  }
  async delete(key: string) {
    if (!this.freed.has(key) && await this.inner.has(key)) {
      const elsewhere = await Promise.all(
        this.peers.filter((p) => p !== this).map((p) => p.has(key)),
      );
      if (!elsewhere.some(Boolean)) {
        this.violations.push(`${key} left ${this.name} with no other copy`);
      }
    }
    return await this.inner.delete(key);
  }
  has(key: string) {
    return this.inner.has(key);
  }
  list(): TierEntry[] {
    return this.inner.list();
  }
  info(): TierInfo {
    return this.inner.info();
  }
}

Deno.test("TierSet keeps the spill invariant under concurrent stores, reads and frees", async () => {
  await withDir(async (dir) => {
    const freed = new Set<string>();
    const violations: string[] = [];
    const peers: Tier[] = [];
    const raw = [
      new MemoryTier("memory", 300),
      await FileTier.open("file", `${dir}/file`, 600),
      await FileTier.open("disk2", `${dir}/disk2`, 5000),
    ];
    const audited = raw.map((t) => new Audited(t, peers, freed, violations));
    peers.push(...audited);
    const tiers = new TierSet({
      node: "n1",
      tiers: [
        { tier: audited[0]!, spec: spec("memory", "memory", 300) },
        { tier: audited[1]!, spec: spec("file", "file", 600) },
        { tier: audited[2]!, spec: { ...spec("disk2", "file", 5000), bandwidth: 1e8 } },
      ],
    });
    const work: Promise<unknown>[] = [];
    for (let v = 1; v <= 60; v++) {
      const size = 20 + (v * 37) % 80;
      work.push(tiers.store(`k${v}`, bytesOf(size, v), fragment(v, size, v % 3 === 0)));
      if (v > 5) work.push(tiers.get(`k${v - 5}`));
      if (v % 7 === 0) {
        freed.add(`k${v - 6}`);
        work.push(tiers.delete(`k${v - 6}`));
      }
    }
    await Promise.all(work);
    assert.deepEqual(violations, []);
    for (let v = 1; v <= 60; v++) {
      const size = 20 + (v * 37) % 80;
      if (freed.has(`k${v}`)) {
        assert.equal(await tiers.get(`k${v}`), undefined);
        continue;
      }
      assert.deepEqual((await tiers.get(`k${v}`))?.bytes, bytesOf(size, v), `k${v}`);
      if (v % 3 === 0) {
        assert.ok(tiers.tiersOf(`k${v}`).some((t) => t !== "memory"), `k${v} is durable`);
      }
    }
    for (const u of tiers.usage()) assert.ok(u.used <= u.capacity);
  });
});

Deno.test("TierSet.open() finds the copies of persistent tiers again and names them primary", async () => {
  await withDir(async (dataDir) => {
    const specs = [
      spec("memory", "memory", 1000),
      { ...spec("scratch", "file", 1000), persistent: false },
      spec("file", "file", 1000),
      spec("backing", "backing", 1000),
    ];
    const a = await TierSet.open(specs, { dataDir, node: "n1" });
    const moved: [string, string][] = [];
    a.onMove((key, tier) => void moved.push([key, tier]));
    await a.store("v", bytesOf(10, 1), fragment(1, 10), {
      tiers: ["memory"],
      reshape: "source",
      policy: "test",
    });
    await a.store("s", bytesOf(10, 2), fragment(2, 10), {
      tiers: ["scratch"],
      reshape: "source",
      policy: "test",
    });
    await a.store("f", bytesOf(10, 3), fragment(3, 10), {
      tiers: ["file"],
      reshape: "source",
      policy: "test",
    });
    assert.equal(await a.copyTo("f", "backing", fragment(3, 10)), true);
    assert.equal(await a.copyTo("f", "backing", fragment(3, 10)), false);
    assert.equal(await a.copyTo("v", "backing", fragment(1, 10)), true);
    assert.deepEqual(moved, [["f", "backing"], ["v", "backing"]]);
    const b = await TierSet.open(specs, { dataDir, node: "n1" });
    assert.deepEqual(b.keys().sort(), ["f", "v"]);
    assert.deepEqual(b.tiersOf("f"), ["file", "backing"]);
    assert.equal(b.primaryOf("f"), "backing");
    assert.deepEqual((await b.get("v"))?.bytes, bytesOf(10, 1));
    assert.equal(await b.get("s"), undefined);
  });
});

Deno.test("TierSet.copyTo() copies a file copy as a file: its size is checked, a file gone is not copied", async () => {
  await withDir(async (dataDir) => {
    const specs = [spec("file", "file", 1000), spec("backing", "backing", 1000)];
    const tiers = await TierSet.open(specs, { dataDir, node: "n1" });
    const onFile = { tiers: ["file"], reshape: "source", policy: "test" } as const;
    for (const [key, v] of [["a", 1], ["b", 2], ["c", 3]] as const) {
      await tiers.store(key, bytesOf(10, v), fragment(v, 10), onFile);
    }
    const fileOf = async (tier: string, key: string) => {
      for await (const e of Deno.readDir(`${dataDir}/${tier}`)) {
        if (e.name === `${key}.bin`) return `${dataDir}/${tier}/${e.name}`;
      }
      throw new Error(`no file of '${key}' on '${tier}'`);
    };
    assert.equal(await tiers.copyTo("a", "backing", fragment(1, 10)), true);
    assert.deepEqual(await Deno.readFile(await fileOf("backing", "a")), bytesOf(10, 1));
    // A file that grew behind the tier's back is refused, not copied as it is.
    await Deno.writeFile(await fileOf("file", "b"), bytesOf(12, 2));
    await assert.rejects(tiers.copyTo("b", "backing", fragment(2, 10)), /expected 10 bytes/);
    // A file removed behind the tier's back leaves nothing to copy.
    await Deno.remove(await fileOf("file", "c"));
    assert.equal(await tiers.copyTo("c", "backing", fragment(3, 10)), false);
    const left = [];
    for await (const e of Deno.readDir(`${dataDir}/backing`)) left.push(e.name);
    assert.deepEqual(left, ["a.bin"]);
  });
});

Deno.test("TierSet.open() refuses two tiers over one directory", async () => {
  await withDir(async (dataDir) => {
    await assert.rejects(
      TierSet.open(
        [spec("file", "file", 100), { ...spec("scratch", "file", 100), path: "file/" }],
        { dataDir, node: "n1" },
      ),
      (e) =>
        e instanceof StrataError &&
        e.message ===
          `Invalid tiers: 'file' and 'scratch' share the directory '${dataDir}/file', expected one directory per tier`,
    );
  });
});

Deno.test("TierSet.storeFile() copies a staged file to the other tiers, then its shm tier takes it", async () => {
  await withDir(async (dir) => {
    const memory = new MemoryTier("memory", 100);
    const shm = await ShmTier.open("shm", `${dir}/shm`, 100);
    const file = await FileTier.open("file", `${dir}/file`, 100);
    const tiers = new TierSet({
      node: "n1",
      tiers: [
        { tier: memory, spec: spec("memory", "memory", 100) },
        { tier: shm, spec: spec("shm", "shm", 100) },
        { tier: file, spec: spec("file", "file", 100) },
      ],
    });
    const staged = tiers.reserveShmStaging("s1", 8)!;
    assert.deepEqual([staged.tier, staged.path], ["shm", shm.stagingPathOf("s1")]);
    assert.equal(tiers.reserveShmStaging("s2", 101), undefined);
    // Staged bytes count against the tier: two stages cannot overfill it.
    assert.equal(shm.info().used, 8);
    assert.equal(tiers.reserveShmStaging("s3", 93), undefined);
    const s4 = tiers.reserveShmStaging("s4", 92)!;
    s4.release();
    s4.release();
    assert.equal(shm.info().used, 8);
    staged.release();
    const bytes = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);
    await Deno.writeFile(staged.path, bytes);
    const placement = {
      policy: "test",
      tiers: ["memory", "shm", "file"],
      reshape: "auto" as const,
    };
    const stored = await tiers.storeFile(
      "d/1/dataset/",
      { ...staged, byteLength: 8 },
      fragment(1, 8, true),
      placement,
    );
    assert.equal(stored.primary, "file");
    assert.deepEqual(tiers.tiersOf("d/1/dataset/"), ["memory", "shm", "file"]);
    for (const t of [memory, shm, file]) assert.deepEqual(await t.get("d/1/dataset/"), bytes);
    assert.equal(await Deno.stat(staged.path).catch((e) => e.constructor), Deno.errors.NotFound);
    // Not placed on its shm tier: copied, and left for the caller to remove.
    await Deno.writeFile(staged.path, bytes);
    await tiers.storeFile(
      "d/2/dataset/",
      { ...staged, byteLength: 8 },
      fragment(2, 8, true),
      { ...placement, tiers: ["file"] },
    );
    assert.deepEqual(tiers.tiersOf("d/2/dataset/"), ["file"]);
    assert.deepEqual(await Deno.readFile(staged.path), bytes);
    // A file of another size: nothing is held, on any tier.
    await assert.rejects(
      () =>
        tiers.storeFile("d/3/dataset/", { ...staged, byteLength: 9 }, fragment(3, 9), placement),
      (e) => e instanceof StrataError && e.code === "size_mismatch",
    );
    assert.equal(tiers.holds("d/3/dataset/"), false);
    assert.deepEqual(await Deno.readFile(staged.path), bytes);
  });
});
