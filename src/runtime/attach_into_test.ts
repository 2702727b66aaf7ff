import assert from "node:assert/strict";
import { InvalidRequestError } from "../errors.ts";
import { particlesDescription, XYZ } from "../../tests/_fixtures.ts";
import { withCluster } from "./_test_cluster.ts";

const PARTICLES = particlesDescription({
  fragments: [XYZ, "fragment soa columnar { var p { x, y, z, id } = p }"],
});

/** Particles lo..hi as an array of structs; `shift` changes every value. */
function particles(lo: number, hi: number, shift = 0): Uint8Array {
  const v = new DataView(new ArrayBuffer((hi - lo) * 32));
  for (let i = lo; i < hi; i++) {
    const at = (i - lo) * 32;
    v.setFloat64(at, i + 0.5 + shift, true);
    v.setFloat64(at + 8, -i - shift, true);
    v.setFloat64(at + 16, i * 2 + shift, true);
    v.setBigInt64(at + 24, BigInt(9000 + i + shift), true);
  }
  return new Uint8Array(v.buffer);
}

/** The `soa` fragment of particles 0..1000, built element by element. */
function soa(shift = 0): Uint8Array {
  const v = new DataView(new ArrayBuffer(32000));
  for (let i = 0; i < 1000; i++) {
    v.setFloat64(8 * i, i + 0.5 + shift, true);
    v.setFloat64(8000 + 8 * i, -i - shift, true);
    v.setFloat64(16000 + 8 * i, i * 2 + shift, true);
    v.setBigInt64(24000 + 8 * i, BigInt(9000 + i + shift), true);
  }
  return new Uint8Array(v.buffer);
}

const halves = [[0, 600], [600, 1000]] as const;

/** Equal bytes, else a failure naming the first difference (a diff of megabytes takes minutes). */
function assertSameBytes(actual: Uint8Array, expected: Uint8Array, message = ""): void {
  assert.equal(actual.byteLength, expected.byteLength, message);
  const at = actual.findIndex((b, i) => b !== expected[i]);
  if (at >= 0) {
    assert.fail(`${message}: byte ${at} is ${actual[at]}, expected ${expected[at]}`);
  }
}

for (const reshape of ["source", "destination"] as const) {
  Deno.test(`Runtime.attach() into a buffer fills it byte for byte, reshape at ${reshape}`, async () => {
    await withCluster(["a", "b", "c"], async (registry, n) => {
      await registry.createDataset({ name: "particles", description: PARTICLES });
      await n.a!.runtime.publish({
        dataset: "particles",
        version: 1,
        fragment: "part",
        bindings: { lo: 0, hi: 1000 },
        bytes: particles(0, 1000),
      });
      // One remote copy, in the target layout or reshaped.
      for (
        const [fragment, bindings, expected] of [
          ["part", { lo: 0, hi: 1000 }, particles(0, 1000)],
          ["soa", {}, soa()],
        ] as const
      ) {
        const into = new Uint8Array(32000).fill(0xee);
        const got = await n.b!.runtime.attach({
          dataset: "particles",
          version: 1,
          fragment,
          bindings,
          reshape,
          into,
        });
        assert.equal(got.bytes, into);
        assert.deepEqual(into, expected);
      }
      // Two remote copies from two nodes, and a local one.
      await registry.createDataset({ name: "split", description: PARTICLES });
      for (const [node, [lo, hi]] of [["a", halves[0]], ["c", halves[1]]] as const) {
        await n[node]!.runtime.publish({
          dataset: "split",
          version: 1,
          fragment: "part",
          bindings: { lo, hi },
          bytes: particles(lo, hi),
        });
      }
      for (const node of ["b", "c"]) {
        const into = new Uint8Array(32000).fill(0xee);
        const got = await n[node]!.runtime.attach({
          dataset: "split",
          version: 1,
          fragment: "soa",
          bindings: {},
          reshape,
          into,
        });
        assert.equal(got.bytes, into);
        assert.deepEqual(into, soa());
      }
    });
  });
}

Deno.test("Runtime.attach() refuses an into buffer of the wrong size and writes nothing", async () => {
  await withCluster(["a", "b"], async (registry, n) => {
    await registry.createDataset({ name: "particles", description: PARTICLES });
    await n.a!.runtime.publish({
      dataset: "particles",
      version: 1,
      fragment: "part",
      bindings: { lo: 0, hi: 1000 },
      bytes: particles(0, 1000),
    });
    for (const node of ["a", "b"]) {
      for (const size of [31999, 32001, 0]) {
        const into = new Uint8Array(size).fill(0xee);
        await assert.rejects(
          n[node]!.runtime.attach({
            dataset: "particles",
            version: 1,
            fragment: "soa",
            bindings: {},
            into,
          }),
          (e) =>
            e instanceof InvalidRequestError && e.code === "invalid_request" &&
            e.message ===
              `Cannot attach version 1 of 'particles' into a buffer of ${size} bytes: expected 32000`,
        );
        assert.ok(into.every((b) => b === 0xee));
      }
    }
  });
});

Deno.test("Runtime.attach() refuses an into buffer that is a stored copy's memory", async () => {
  await withCluster(["a"], async (registry, n) => {
    await registry.createDataset({ name: "particles", description: PARTICLES });
    const stored = particles(0, 1000);
    await n.a!.runtime.publish({
      dataset: "particles",
      version: 1,
      fragment: "part",
      bindings: { lo: 0, hi: 1000 },
      bytes: stored,
    });
    await assert.rejects(
      n.a!.runtime.attach({
        dataset: "particles",
        version: 1,
        fragment: "soa",
        bindings: {},
        into: stored,
      }),
      (e) =>
        e instanceof InvalidRequestError &&
        e.message.startsWith("Cannot attach into a buffer that shares memory with copy"),
    );
    assert.deepEqual(stored, particles(0, 1000));
  });
});

Deno.test("Runtime.attach() results never share memory with reused scratch buffers", async () => {
  await withCluster(["a", "b", "c"], async (registry, n) => {
    await registry.createDataset({ name: "particles", description: PARTICLES });
    for (const version of [1, 2]) {
      for (const [node, [lo, hi]] of [["a", halves[0]], ["c", halves[1]]] as const) {
        await n[node]!.runtime.publish({
          dataset: "particles",
          version,
          fragment: "part",
          bindings: { lo, hi },
          bytes: particles(lo, hi, version),
        });
      }
    }
    for (const reshape of ["source", "destination"] as const) {
      const attach = (version: number, fragment: string, bindings = {}) =>
        n.b!.runtime.attach({ dataset: "particles", version, fragment, bindings, reshape });
      // Parts arrive in scratch buffers, reused from one attach to the next.
      const first = await attach(1, "soa");
      const second = await attach(2, "soa");
      const whole = await attach(1, "part", { lo: 0, hi: 600 });
      const again = await attach(1, "part", { lo: 0, hi: 600 });
      assert.notEqual(first.bytes.buffer, second.bytes.buffer);
      assert.notEqual(whole.bytes.buffer, again.bytes.buffer);
      assert.deepEqual(first.bytes, soa(1));
      assert.deepEqual(second.bytes, soa(2));
      assert.deepEqual(whole.bytes, particles(0, 600, 1));
      // Changing a result changes nothing another attach returns.
      first.bytes.fill(0);
      whole.bytes.fill(0);
      assert.deepEqual((await attach(1, "soa")).bytes, soa(1));
      assert.deepEqual((await attach(1, "part", { lo: 0, hi: 600 })).bytes, particles(0, 600, 1));
    }
  });
});

Deno.test("Runtime.produce() reshapes into a scratch buffer that is reused only once released", async () => {
  await withCluster(["a"], async (registry, n) => {
    await registry.createDataset({ name: "particles", description: PARTICLES });
    const stored = particles(0, 1000);
    const record = await n.a!.runtime.publish({
      dataset: "particles",
      version: 1,
      fragment: "part",
      bindings: { lo: 0, hi: 1000 },
      bytes: stored,
    });
    const layout = await registry.fragmentLayout("particles", "part", { lo: 0, hi: 1000 });
    const want = await registry.fragmentLayout("particles", "soa", {});
    const copy = { ...record.record, layout };
    const one = await n.a!.runtime.produce(copy, want);
    const two = await n.a!.runtime.produce(copy, want);
    assert.notEqual(one.bytes.buffer, two.bytes.buffer);
    assert.deepEqual(one.bytes, soa());
    assert.deepEqual(two.bytes, soa());
    one.release?.();
    const three = await n.a!.runtime.produce(copy, want);
    assert.equal(three.bytes.buffer, one.bytes.buffer);
    assert.deepEqual(two.bytes, soa());
    assert.deepEqual(three.bytes, soa());
    two.release?.();
    three.release?.();
    // A copy sent as stored is the tier's buffer, with nothing to release.
    const asStored = await n.a!.runtime.produce(copy, layout);
    assert.equal(asStored.bytes, stored);
    assert.equal(asStored.release, undefined);
  });
});

Deno.test("Runtime.attach() reshapes a large remote part as it arrives, byte for byte", async () => {
  await withCluster(["a", "b"], async (registry, n) => {
    // 100 000 particles (3.2 MB): the reshape runs in several pieces.
    const count = 100_000;
    await registry.createDataset({
      name: "big",
      description: `dataset big {
  type P struct { x, y, z float64; id int64 }
  var p [${count}]P
}
fragment soa columnar { var p { x, y, z, id } = p }
fragment xyz columnar { var p { x float32, y float32, z float32 } = p }`,
    });
    const stored = new DataView(new ArrayBuffer(count * 32));
    for (let i = 0; i < count; i++) {
      stored.setFloat64(32 * i, i + 0.25, true);
      stored.setFloat64(32 * i + 8, -i, true);
      stored.setFloat64(32 * i + 16, i / 8, true);
      stored.setBigInt64(32 * i + 24, BigInt(i * 3), true);
    }
    await n.a!.runtime.publish({
      dataset: "big",
      version: 1,
      fragment: "dataset",
      bindings: {},
      bytes: new Uint8Array(stored.buffer),
    });
    const local = await n.a!.runtime.attach({
      dataset: "big",
      version: 1,
      fragment: "soa",
      bindings: {},
    });
    const x = new Float64Array(local.bytes.buffer, 0, count);
    assert.equal(x[count - 1], count - 1 + 0.25);
    const into = new Uint8Array(count * 32).fill(0xee);
    for (const step of [1, 2]) {
      const got = await n.b!.runtime.attach({
        dataset: "big",
        version: 1,
        fragment: "soa",
        bindings: {},
        reshape: "destination",
        into,
      });
      assert.equal(got.bytes, into, `step ${step}`);
      assertSameBytes(into, local.bytes, `step ${step}`);
      const fresh = await n.b!.runtime.attach({
        dataset: "big",
        version: 1,
        fragment: "xyz",
        bindings: {},
        reshape: "destination",
      });
      const expected = await n.a!.runtime.attach({
        dataset: "big",
        version: 1,
        fragment: "xyz",
        bindings: {},
      });
      assertSameBytes(fresh.bytes, expected.bytes, `xyz, step ${step}`);
      into.fill(0);
    }
  });
});
