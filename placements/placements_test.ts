import assert from "node:assert/strict";
import { loadPolicy } from "../src/tiers/load_policy.ts";
import type { NodeView, PlacementRequest, TierView } from "../src/tiers/policy.ts";
import { planSpill, type SpillCopy, type SpillRequest } from "../src/tiers/spill.ts";
import { consumerNear, fastestFit, roundRobin } from "./mod.ts";

function tier(name: string, o: Partial<TierView> = {}): TierView {
  const capacity = o.capacity ?? 1000;
  const used = o.used ?? 0;
  return {
    name,
    kind: o.kind ?? "memory",
    capacity,
    used,
    free: capacity - used,
    room: o.room ?? capacity - used,
    bandwidth: o.bandwidth ?? 1e9,
    latency: o.latency ?? 0,
    persistent: o.persistent ?? false,
  };
}

function node(
  name: string,
  tiers: TierView[],
  link = { bandwidth: Infinity, latency: 0 },
): NodeView {
  return { name, link, tiers };
}

function request(
  nodes: NodeView[],
  o: Partial<PlacementRequest["fragment"]> = {},
): PlacementRequest {
  return {
    fragment: {
      dataset: "d",
      version: 1,
      fragment: "dataset",
      bindings: {},
      byteLength: 100,
      durable: false,
      consumers: [],
      ...o,
    },
    node: nodes[0]!.name,
    nodes,
    sequence: 0,
  };
}

Deno.test("fastestFit() weighs latency against bandwidth for the copy's size", () => {
  const nodes = [
    node("n", [
      tier("lowlatency", { latency: 1e-6, bandwidth: 1e8 }),
      tier("wide", { latency: 1e-3, bandwidth: 1e11 }),
    ]),
  ];
  // 100 bytes: latency dominates; 1e7 bytes: bandwidth does.
  assert.equal(fastestFit(request(nodes)).copies[0]!.tier, "lowlatency");
  const big = nodes.map((n) => ({
    ...n,
    tiers: n.tiers.map((t) => ({ ...t, capacity: 1e8, room: 1e8 })),
  }));
  assert.equal(fastestFit(request(big, { byteLength: 1e7 })).copies[0]!.tier, "wide");
});

Deno.test("fastestFit() counts room a spill can make, and skips tiers too small for the copy", () => {
  const full = tier("memory", { used: 1000, room: 800, bandwidth: 1e10 });
  const small = tier("tiny", { capacity: 50, bandwidth: 1e12 });
  const disk = tier("file", { persistent: true });
  const nodes = [node("n", [small, full, disk])];
  assert.deepEqual(fastestFit(request(nodes)).copies, [{ node: "n", tier: "memory" }]);
  const fuller = [node("n", [small, { ...full, room: 50 }, disk])];
  assert.deepEqual(fastestFit(request(fuller)).copies, [{ node: "n", tier: "file" }]);
  assert.deepEqual(fastestFit(request([node("n", [small])])).copies, []);
});

Deno.test("fastestFit() adds a persistent copy for a durable fragment, or places none", () => {
  const nodes = [
    node("n", [tier("memory", { bandwidth: 1e10 }), tier("file", { persistent: true })]),
  ];
  assert.deepEqual(fastestFit(request(nodes, { durable: true })).copies, [
    { node: "n", tier: "memory" },
    { node: "n", tier: "file" },
  ]);
  const noDisk = [node("n", [tier("memory")])];
  assert.deepEqual(fastestFit(request(noDisk, { durable: true })).copies, []);
});

Deno.test("fastestFit() leaves the reshape site to each attach", () => {
  const nodes = [node("n", [tier("memory"), tier("file", { persistent: true })])];
  assert.equal(fastestFit(request(nodes)).reshape, "auto");
  assert.equal(fastestFit(request(nodes, { durable: true })).reshape, "auto");
  assert.equal(fastestFit(request([node("n", [])])).reshape, "auto");
});

Deno.test("fastestFit() prefers the publishing node over a faster tier across a slow link", () => {
  const nodes = [
    node("here", [tier("file", { bandwidth: 1e9, latency: 1e-4, persistent: true })]),
    node("there", [tier("memory", { bandwidth: 1e10 })], { bandwidth: 1e8, latency: 1e-3 }),
  ];
  assert.deepEqual(fastestFit(request(nodes)).copies, [{ node: "here", tier: "file" }]);
});

Deno.test("roundRobin() takes the nodes with room in turn", () => {
  const nodes = [
    node("a", [tier("m")]),
    node("b", [tier("m", { used: 1000 })]),
    node("c", [tier("m")]),
  ];
  const picks = [0, 1, 2, 3].map((sequence) =>
    roundRobin({ ...request(nodes), sequence }).copies[0]!.node
  );
  assert.deepEqual(picks, ["a", "c", "a", "c"]);
  assert.equal(roundRobin(request(nodes)).reshape, "destination");
});

Deno.test("consumerNear() places on a consumer's node, preferring shm, else stays home", () => {
  const tiers = () => [tier("memory", { bandwidth: 1e10 }), tier("shm", { kind: "shm" })];
  const nodes = [node("p", tiers()), node("c1", tiers())];
  assert.deepEqual(consumerNear(request(nodes, { consumers: ["elsewhere", "c1"] })), {
    copies: [{ node: "c1", tier: "shm" }],
    reshape: "source",
  });
  assert.deepEqual(consumerNear(request(nodes)), {
    copies: [{ node: "p", tier: "memory" }],
    reshape: "destination",
  });
  const fullConsumer = [node("p", tiers()), node("c1", [tier("shm", { kind: "shm", used: 1000 })])];
  assert.deepEqual(consumerNear(request(fullConsumer, { consumers: ["c1"] })).copies, [
    { node: "p", tier: "memory" },
  ]);
});

const TIERS = [
  { name: "memory", capacity: 100, used: 0, persistent: false },
  { name: "file", capacity: 200, used: 0, persistent: true },
  { name: "backing", capacity: 1000, used: 0, persistent: true },
];

function spill(
  copies: Omit<SpillCopy, "alsoOn" | "durable">[],
  o: Partial<SpillRequest> & { durable?: boolean } = {},
) {
  const full = copies.map((c) => ({ durable: o.durable ?? false, alsoOn: [], ...c }));
  const used = new Map<string, number>();
  for (const c of full) used.set(c.tier, (used.get(c.tier) ?? 0) + c.byteLength);
  return planSpill({
    tiers: TIERS.map((t) => ({ ...t, used: used.get(t.name) ?? 0 })),
    copies: full,
    tier: "memory",
    bytes: 50,
    ...o,
  });
}

Deno.test("planSpill() demotes least recently used copies first, cascading down the tiers", () => {
  const moves = spill([
    { key: "m-new", tier: "memory", byteLength: 50, lastUse: 9 },
    { key: "m-old", tier: "memory", byteLength: 50, lastUse: 3 },
    { key: "f-old", tier: "file", byteLength: 100, lastUse: 1 },
    { key: "f-new", tier: "file", byteLength: 100, lastUse: 2 },
  ]);
  assert.deepEqual(moves, [
    { key: "f-old", from: "file", to: "backing", byteLength: 100 },
    { key: "m-old", from: "memory", to: "file", byteLength: 50 },
  ]);
});

Deno.test("planSpill() drops a copy another tier holds, and keeps durable copies on persistent tiers", () => {
  const cached = spill([], {
    copies: [
      { key: "k", tier: "memory", byteLength: 100, lastUse: 1, durable: true, alsoOn: ["file"] },
      { key: "k", tier: "file", byteLength: 100, lastUse: 1, durable: true, alsoOn: ["memory"] },
    ],
    tiers: TIERS.map((t) => ({ ...t, used: t.name === "backing" ? 0 : 100 })),
  });
  assert.deepEqual(cached, [{ key: "k", from: "memory", to: null, byteLength: 100 }]);
  const tiers = [
    { name: "file", capacity: 100, used: 100, persistent: true },
    { name: "shm", capacity: 1000, used: 0, persistent: false },
    { name: "backing", capacity: 1000, used: 0, persistent: true },
  ];
  const copies = [
    { key: "k", tier: "file", byteLength: 100, lastUse: 1, durable: true, alsoOn: [] },
  ];
  // The volatile shm tier has room, but a durable copy skips it for backing.
  assert.deepEqual(planSpill({ tiers, copies, tier: "file", bytes: 10 }), [
    { key: "k", from: "file", to: "backing", byteLength: 100 },
  ]);
  assert.equal(planSpill({ tiers: tiers.slice(0, 2), copies, tier: "file", bytes: 10 }), undefined);
});

Deno.test("planSpill() returns undefined and no partial plan when the room cannot be made", () => {
  const moves = spill([
    { key: "a", tier: "memory", byteLength: 100, lastUse: 1 },
    { key: "b", tier: "file", byteLength: 200, lastUse: 1 },
  ], { tiers: TIERS.slice(0, 2).map((t) => ({ ...t, used: t.capacity })) });
  assert.equal(moves, undefined);
  assert.equal(spill([], { bytes: 101 }), undefined);
  assert.deepEqual(
    spill([{ key: "a", tier: "memory", byteLength: 100, lastUse: 1 }], { keep: new Set(["a"]) }),
    undefined,
  );
});

Deno.test("planSpill() plans moves that never overfill a tier and free what was asked (random hierarchies)", () => {
  let seed = 42;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  let planned = 0;
  for (let round = 0; round < 500; round++) {
    const tiers = Array.from({ length: 2 + rand(3) }, (_, i) => ({
      name: `t${i}`,
      capacity: 100 + rand(400),
      used: 0,
      persistent: rand(2) === 1,
    }));
    const copies: SpillCopy[] = [];
    const used = tiers.map(() => 0);
    for (let k = 0; k < 20; k++) {
      const i = rand(tiers.length);
      const size = 1 + rand(80);
      if (used[i]! + size > tiers[i]!.capacity) continue;
      used[i]! += size;
      copies.push({
        key: `k${k}`,
        tier: tiers[i]!.name,
        byteLength: size,
        lastUse: rand(100),
        durable: rand(2) === 1,
        alsoOn: [],
      });
    }
    const state = tiers.map((t, i) => ({ ...t, used: used[i]! }));
    const need = 1 + rand(tiers[0]!.capacity);
    const moves = planSpill({ tiers: state, copies, tier: "t0", bytes: need });
    // The lazy form, each tier's copies least recently used first, plans the same moves.
    const lru = [...copies].sort((a, b) => a.lastUse - b.lastUse);
    const lazy = planSpill({
      tiers: state,
      copies: (tier) => lru.filter((c) => c.tier === tier),
      tier: "t0",
      bytes: need,
    });
    assert.deepEqual(lazy, moves);
    if (moves === undefined) continue;
    planned++;
    // Replay: every step stays within capacity, durable copies stay persistent, the room is made.
    const where = new Map(copies.map((c) => [c.key, c]));
    const at = new Map(tiers.map((t, i) => [t.name, i]));
    for (const m of moves) {
      const c = where.get(m.key)!;
      assert.equal(c.tier, m.from);
      assert.notEqual(m.to, null, "no other tier holds these copies, so none is dropped");
      const from = at.get(m.from)!;
      const to = at.get(m.to!)!;
      assert.ok(to > from, "copies only move down the hierarchy");
      if (c.durable && tiers[from]!.persistent) assert.ok(tiers[to]!.persistent);
      used[from]! -= m.byteLength;
      used[to]! += m.byteLength;
      assert.ok(used[to]! <= tiers[to]!.capacity, `tier ${m.to} overfilled`);
      where.set(m.key, { ...c, tier: m.to! });
    }
    assert.ok(tiers[0]!.capacity - used[0]! >= need);
  }
  assert.ok(planned > 100, `only ${planned} of 500 rounds could be planned`);
});

Deno.test("loadPolicy() loads the example module placements/emptiest.ts by its path", async () => {
  const logged: string[] = [];
  const policy = await loadPolicy("placements/emptiest.ts", { log: (m) => logged.push(m) });
  assert.equal(policy.name, "placements/emptiest.ts");
  assert.deepEqual(logged, []);
  const nodes = [
    node("n", [tier("memory", { used: 900 }), tier("file", { used: 100, persistent: true })]),
  ];
  assert.deepEqual(policy.place(request(nodes)).copies, [{ node: "n", tier: "file" }]);
});
