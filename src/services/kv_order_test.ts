import assert from "node:assert/strict";
import { mulberry32 } from "../../tests/_fixtures.ts";
import { compareKvKeys, scanSelector } from "./kv_order.ts";

function randomPart(rnd: () => number): Deno.KvKeyPart {
  const pick = <T>(a: readonly T[]) => a[Math.floor(rnd() * a.length)]!;
  switch (Math.floor(rnd() * 5)) {
    case 0:
      return new Uint8Array(
        Array.from({ length: Math.floor(rnd() * 4) }, () => pick([0, 1, 127, 128, 255])),
      );
    case 1:
      return Array.from(
        { length: Math.floor(rnd() * 3) },
        () => pick(["a", "b", "é", "\u{1F600}", "\uE000", "\0"]),
      ).join("");
    case 2:
      return pick([0, -0, 1, -1, 0.5, -2.5, 1e300, -1e300, Infinity, -Infinity, NaN, 2 ** 53]);
    case 3:
      return pick([0n, 1n, -1n, 2n ** 64n, -(2n ** 64n), 7n]);
    default:
      return rnd() < 0.5;
  }
}

Deno.test("compareKvKeys() sorts keys exactly as Deno KV lists them", async () => {
  const rnd = mulberry32(20261205);
  using kv = await Deno.openKv(":memory:");
  for (let i = 0; i < 600; i++) {
    const key = ["k", ...Array.from({ length: 1 + Math.floor(rnd() * 3) }, () => randomPart(rnd))];
    await kv.set(key, i);
  }
  const listed: Deno.KvKey[] = [];
  for await (const e of kv.list({ prefix: ["k"] })) listed.push(e.key);
  const sorted = [...listed].sort(compareKvKeys);
  assert.deepEqual(sorted, listed);
  for (let i = 1; i < listed.length; i++) assert.ok(compareKvKeys(listed[i - 1]!, listed[i]!) < 0);
});

Deno.test("scanSelector() lists what the prefix, start and end select, and never makes Deno KV throw", async () => {
  const rnd = mulberry32(7);
  using kv = await Deno.openKv(":memory:");
  const all: Deno.KvKey[] = [];
  const small = () => Math.floor(rnd() * 4);
  const part = (): Deno.KvKeyPart => rnd() < 0.5 ? small() : new Uint8Array([small(), small()]);
  for (let i = 0; i < 200; i++) {
    const key = [rnd() < 0.5 ? "a" : "b", ...Array.from({ length: 1 + small() }, part)];
    await kv.set(key, i);
  }
  for await (const e of kv.list({ start: [""], end: ["z"] })) all.push(e.key);
  const some = (): Deno.KvKey | undefined => {
    if (rnd() < 0.25) return undefined;
    const base = all[Math.floor(rnd() * all.length)]!;
    return rnd() < 0.5 ? base.slice(0, 1 + Math.floor(rnd() * base.length)) : [...base, part()];
  };
  const under = (k: Deno.KvKey, p: Deno.KvKey) =>
    k.length > p.length && compareKvKeys(k.slice(0, p.length), p) === 0;
  for (let i = 0; i < 400; i++) {
    const prefix = rnd() < 0.2 ? undefined : some() ?? ["a"];
    let start = some();
    let end = some();
    if (prefix === undefined) {
      start ??= ["a"];
      end ??= ["b", 9];
    }
    const want = all.filter((k) =>
      (prefix === undefined || under(k, prefix)) &&
      (start === undefined || compareKvKeys(k, start) >= 0) &&
      (end === undefined || compareKvKeys(k, end) < 0)
    );
    const selector = scanSelector(prefix, start, end);
    const got: Deno.KvKey[] = [];
    if (selector !== undefined) { for await (const e of kv.list(selector)) got.push(e.key); }
    assert.deepEqual(got, want, JSON.stringify({ prefix, start, end }));
  }
});
