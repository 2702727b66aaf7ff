import assert from "node:assert/strict";
import type { NameService } from "../name_service/name_service.ts";
import { metrics } from "../observe/mod.ts";
import { openRegistry } from "../registry/registry.ts";
import { openMemoryAndFile } from "../tiers/memory_and_file.ts";
import { withDir } from "../../tests/_fixtures.ts";
import { Runtime } from "./runtime.ts";

const taken = async () => (await metrics.inlineCopies.get()).values[0]?.value ?? 0;

/**
 * A runtime on a registry in this process whose commit notices pass
 * through `alter`; runs `fn` with it after creating dataset `s` (4 float64).
 */
async function withRuntime(
  alter: (inline: Uint8Array) => Uint8Array,
  fn: (runtime: Runtime) => Promise<void>,
): Promise<void> {
  await withDir(async (dir) => {
    await using registry = await openRegistry({ path: ":memory:" });
    await registry.createDataset({
      name: "s",
      description: "dataset s { var x [4]float64 }",
      retention: 8,
    });
    const names = new Proxy(registry, {
      get(target, key) {
        const value = Reflect.get(target, key, target);
        if (key !== "subscribe") return typeof value === "function" ? value.bind(target) : value;
        return (query: Parameters<typeof registry.subscribe>[0]) => {
          const sub = registry.subscribe(query);
          return {
            next: async (ms: number) => {
              const n = await sub.next(ms);
              if (n === undefined) return n;
              const sources = n.sources.map((s) =>
                s.inline === undefined ? s : { ...s, inline: alter(s.inline) }
              );
              return { ...n, sources };
            },
            close: () => sub.close(),
          };
        };
      },
    }) as NameService;
    const runtime = new Runtime({
      node: "n1",
      names,
      tiers: await openMemoryAndFile({ node: "n1", dataDir: dir, memory: 1 << 20, file: 1 << 20 }),
    });
    await fn(runtime);
  });
}

const value = (v: number) => new Uint8Array(new Float64Array(4).fill(v).buffer);

/** Publishes versions 1 to 3 of `s` and takes them from a subscription; returns what it got. */
async function publishAndTake(runtime: Runtime): Promise<Uint8Array[]> {
  const stream = runtime.subscribe({ dataset: "s", fragment: "dataset", bindings: {} });
  for (let v = 1; v <= 3; v++) {
    await runtime.publish({
      dataset: "s",
      version: v,
      fragment: "dataset",
      bindings: {},
      bytes: value(v),
    });
  }
  const got: Uint8Array[] = [];
  for (let v = 1; v <= 3; v++) {
    const next = await stream.next({ timeoutMs: 5000 });
    assert.equal(next.version, v);
    assert.deepEqual(next.bytes, value(v));
    got.push(next.bytes);
  }
  stream.close();
  return got;
}

Deno.test("a subscription takes a small version from the bytes its notice carried, never handing them out", async () => {
  const seen: Uint8Array[] = [];
  await withRuntime((inline) => (seen.push(inline), inline), async (runtime) => {
    const before = await taken();
    const got = await publishAndTake(runtime);
    assert.equal(await taken() - before, 3);
    assert.equal(seen.length, 3);
    // The caller owns what it got: never the notice's (or the publisher's) buffer.
    for (const bytes of got) assert.ok(seen.every((s) => s.buffer !== bytes.buffer));
  });
});

Deno.test("a notice's bytes that do not match the copy's checksum are not used: the copy is read instead", async () => {
  await withRuntime((inline) => {
    const bad = inline.slice();
    bad[0]! ^= 0xff;
    return bad;
  }, async (runtime) => {
    const before = await taken();
    await publishAndTake(runtime);
    assert.equal(await taken(), before);
  });
});
