import assert from "node:assert/strict";
import {
  decodeItem,
  descriptorLevel,
  encodeItem,
  INVALID,
  type Item,
  itemLevel,
  kindOf,
  parentDescriptor,
  parentOf,
} from "./codec.ts";
import { descriptorTarget, itemTarget, productTarget } from "./placement.ts";
import { TargetRing } from "../targets.ts";

function random(seed: number): () => bigint {
  let s = seed >>> 0;
  const next = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0);
  // Small, huge and boundary numbers, so carries across bytes are exercised.
  return () => {
    const pick = next() % 4;
    if (pick === 0) return BigInt(next() % 300);
    if (pick === 1) return (BigInt(next()) << 32n) | BigInt(next());
    if (pick === 2) return INVALID - 1n - BigInt(next() % 3);
    return BigInt(next()) * 256n;
  };
}

function compare(a: Item, b: Item): number {
  for (const k of ["run", "subrun", "event"] as const) {
    if (a[k] !== b[k]) return a[k] < b[k] ? -1 : 1;
  }
  return 0;
}

Deno.test("encodeItem() scan order in Deno KV equals numeric order", async () => {
  const kv = await Deno.openKv(":memory:");
  const uuid = new Uint8Array(16).fill(0xab);
  const n = random(7);
  const items: Item[] = [];
  for (let i = 0; i < 500; i++) items.push({ uuid, run: n(), subrun: n(), event: n() });
  for (let at = 0; at < items.length; at += 100) {
    const tx = kv.atomic();
    for (const item of items.slice(at, at + 100)) tx.set(["ev", encodeItem(item)], 1);
    await tx.commit();
  }
  const scanned: Item[] = [];
  for await (const e of kv.list({ prefix: ["ev"] })) {
    scanned.push(decodeItem(e.key[1] as Uint8Array));
  }
  const unique = new Map(items.map((i) => [`${i.run}.${i.subrun}.${i.event}`, i]));
  assert.deepEqual(scanned, [...unique.values()].sort(compare));
  kv.close();
});

Deno.test("decodeItem() inverts encodeItem() on boundary numbers", () => {
  const uuid = crypto.getRandomValues(new Uint8Array(16));
  for (const run of [0n, 1n, 255n, 256n, 2n ** 32n, INVALID - 1n]) {
    const item = { uuid, run, subrun: INVALID, event: INVALID };
    assert.deepEqual(decodeItem(encodeItem(item)), item);
  }
  assert.throws(
    () => encodeItem({ uuid, run: INVALID + 1n, subrun: 0n, event: 0n }),
    /Invalid run/,
  );
});

Deno.test("itemTarget() keeps a subrun's events together and productTarget() their products", () => {
  const ring = new TargetRing(8);
  const uuid = new Uint8Array(16).fill(1);
  const targets = new Set<number>();
  for (let s = 0n; s < 64n; s++) {
    const first = itemTarget({ uuid, run: 3n, subrun: s, event: 0n }, ring);
    targets.add(first);
    for (let e = 1n; e < 20n; e++) {
      assert.equal(itemTarget({ uuid, run: 3n, subrun: s, event: e }, ring), first);
      assert.equal(
        productTarget(encodeItem({ uuid, run: 3n, subrun: s, event: e }), ring),
        productTarget(encodeItem({ uuid, run: 3n, subrun: s, event: 0n }), ring),
      );
    }
  }
  assert.ok(targets.size >= 6, `64 subruns spread over ${targets.size} of 8 targets`);
});

Deno.test("descriptorLevel() and parentDescriptor() agree with decoding, at every level", () => {
  const next = random(11);
  const levels = { dataset: 0, run: 1, subrun: 2, event: 3 } as const;
  for (let k = 0; k < 2000; k++) {
    const uuid = new Uint8Array(16).map((_, i) => Number(next() % 256n) ^ i);
    const depth = k % 4;
    const n = () => {
      const v = next();
      return v === INVALID ? 0n : v;
    };
    const item: Item = {
      uuid,
      run: depth >= 1 ? n() : INVALID,
      subrun: depth >= 2 ? n() : INVALID,
      event: depth >= 3 ? n() : INVALID,
    };
    const bytes = encodeItem(item);
    assert.equal(descriptorLevel(bytes), levels[kindOf(item)]);
    assert.deepEqual(parentDescriptor(bytes), encodeItem(parentOf(item)));
  }
});

Deno.test("itemLevel and descriptorTarget read from the bytes what kindOf and itemTarget read from the item", () => {
  const next = random(11);
  const ring = new TargetRing(8);
  const kinds = ["dataset", "run", "subrun", "event"];
  for (let i = 0; i < 2000; i++) {
    const uuid = new Uint8Array(16).fill(i % 251);
    uuid[0] = i >> 8;
    const item = {
      uuid,
      run: i % 7 === 0 ? INVALID : next(),
      subrun: i % 5 === 0 ? INVALID : next(),
      event: i % 3 === 0 ? INVALID : next(),
    };
    const bytes = encodeItem(item);
    let kind: string;
    try {
      kind = kindOf(item);
    } catch (e) {
      // A number after an absent one: refused by both, with the same message.
      assert.throws(() => itemLevel(bytes), { message: (e as Error).message });
      continue;
    }
    const level = itemLevel(bytes);
    assert.equal(kinds[level], kind);
    assert.equal(descriptorTarget(bytes, level, ring), itemTarget(item, ring));
  }
  assert.throws(() => itemLevel(new Uint8Array(39)), /expected 40 bytes/);
});
