import assert from "node:assert/strict";
import { connect, type Step } from "../client/mod.ts";
import { openRegistry } from "../registry/registry.ts";
import { Runtime } from "../runtime/runtime.ts";
import { KIND_DEFAULTS, MemoryTier, TierSet } from "../tiers/mod.ts";
import { createApp } from "./app.ts";

// Particles as an array of structs; the stream reads them as columns.
const PARTICLES = `dataset p {
  type P struct { x, y float64 }
  var q [4]P
}
fragment cols columnar { var q { x, y } = q }
fragment first(i) { var q = q[i:i + 1] }`;

/** A runtime over an in-memory registry, its app served on loopback. */
async function withServed(
  fn: (url: string) => Promise<void>,
  options: {
    readonly maxStreams?: number;
    readonly runtime?: boolean;
    readonly heartbeatMs?: number;
  } = {},
): Promise<void> {
  const registry = await openRegistry({ path: ":memory:" });
  const tiers = new TierSet({
    node: "n1",
    tiers: [{
      tier: new MemoryTier("memory", 1 << 20),
      spec: { name: "memory", kind: "memory", capacity: 1 << 20, ...KIND_DEFAULTS.memory },
    }],
  });
  const runtime = new Runtime({ node: "n1", names: registry, tiers });
  const app = createApp({
    maxBodyBytes: 4096,
    data: {
      ...(options.runtime === false ? {} : { runtime }),
      catalog: registry,
      maxPayloadBytes: 1 << 20,
    },
    ...(options.maxStreams === undefined ? {} : { maxStepStreams: options.maxStreams }),
    ...(options.heartbeatMs === undefined ? {} : { stepHeartbeatMs: options.heartbeatMs }),
  });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, app.fetch);
  try {
    await fn(`http://127.0.0.1:${server.addr.port}`);
  } finally {
    await server.shutdown();
    await runtime.close?.();
    registry.close();
  }
}

/** Version `v`'s particles: x = 10 v + i, y = -x. */
function particles(v: number): Float64Array {
  const out = new Float64Array(8);
  for (let i = 0; i < 4; i++) {
    out[2 * i] = 10 * v + i;
    out[2 * i + 1] = -(10 * v + i);
  }
  return out;
}

function columns(step: Step): number[] {
  return [...new Float64Array(step.bytes.buffer, step.bytes.byteOffset, 8)];
}

Deno.test("a step stream hands over every committed version in order, reshaped, then ends at its wait", async () => {
  await withServed(async (url) => {
    const strata = connect(url);
    await strata.createDataset("p", PARTICLES, { retention: 8 });
    await strata.publish("p", 1, "dataset", particles(1));
    await strata.publish("p", 2, "dataset", particles(2));
    const got: number[][] = [];
    const versions: number[] = [];
    for await (
      const step of strata.steps("p", "cols", { from: 1, ahead: 2, waitMs: 300 })
    ) {
      versions.push(step.version);
      got.push(columns(step));
      assert.equal(step.dropped, 0);
      assert.equal(step.layout.byteLength, 64);
      // Versions committed while the stream is open are pushed to it.
      if (step.version === 2) await strata.publish("p", 3, "dataset", particles(3));
    }
    assert.deepEqual(versions, [1, 2, 3]);
    assert.deepEqual(got[2], [30, 31, 32, 33, -30, -31, -32, -33]);
  });
});

Deno.test("a step stream starts at 'from', takes bindings, and a reader that breaks off closes it", async () => {
  await withServed(async (url) => {
    const strata = connect(url);
    await strata.createDataset("p", PARTICLES, { retention: 8 });
    for (let v = 1; v <= 4; v++) await strata.publish("p", v, "dataset", particles(v));
    for await (const step of strata.steps("p", "first", { params: { i: 2 }, from: 3 })) {
      assert.equal(step.version, 3);
      assert.deepEqual([...new Float64Array(step.bytes.slice().buffer)], [32, -32]);
      break;
    }
  });
  // A stream left with break frees its slot: a runtime allowing one stream opens three in turn.
  await withServed(async (url) => {
    const strata = connect(url);
    await strata.createDataset("p", PARTICLES);
    await strata.publish("p", 1, "dataset", particles(1));
    for (let k = 0; k < 3; k++) {
      for await (const step of strata.steps("p", "cols", { waitMs: 1000 })) {
        assert.equal(step.version, 1);
        break;
      }
    }
  }, { maxStreams: 1 });
});

Deno.test("a step stream refuses a bad query with 400, and past its limit with 503 busy", async () => {
  await withServed(async (url) => {
    const strata = connect(url);
    await strata.createDataset("p", PARTICLES);
    for (
      const [q, why] of [
        ["ahead=0", /'ahead' must be from 1 to 16/],
        ["ahead=17", /'ahead' must be from 1 to 16/],
        ["limit=x", /'limit' must be an integer/],
        ["wait=-1", /'wait' must be from 0/],
        ["i=1.5", /'i' must be an integer/],
      ] as const
    ) {
      const res = await fetch(`${url}/v1/datasets/p/fragments/cols/steps?${q}`);
      assert.equal(res.status, 400, q);
      assert.match((await res.json()).error.message, why);
    }
    const bad = await fetch(`${url}/v1/datasets/p/fragments/no%20such/steps`);
    assert.equal(bad.status, 400);
    await bad.body?.cancel();
    // A fragment the dataset does not declare, or a limit the queue refuses: the last frame.
    await assert.rejects(async () => {
      for await (const _ of strata.steps("p", "nope", { waitMs: 200 })) { /* none */ }
    }, /Unknown fragment 'nope': the dataset declares 'cols', 'first'/);
    await assert.rejects(async () => {
      for await (const _ of strata.steps("p", "cols", { limit: 5000, waitMs: 200 })) { /* none */ }
    }, /subscription limit/);
    const open = await fetch(`${url}/v1/datasets/p/fragments/cols/steps?wait=5000`);
    assert.equal(open.status, 200);
    assert.equal(open.headers.get("content-type"), "application/x-strata-steps");
    const busy = await fetch(`${url}/v1/datasets/p/fragments/cols/steps`);
    assert.equal(busy.status, 503);
    assert.equal((await busy.json()).error.code, "busy");
    await open.body?.cancel();
  }, { maxStreams: 1 });
});

Deno.test("a name server has no step streams: 404 naming the runtimes", async () => {
  await withServed(async (url) => {
    const res = await fetch(`${url}/v1/datasets/p/fragments/cols/steps`);
    assert.equal(res.status, 404);
    assert.match((await res.json()).error.message, /stream steps from a runtime/);
  }, { runtime: false });
});

/** The JSON headers of a step stream's frames, read raw until its last frame. */
async function frameHeaders(res: Response): Promise<Record<string, unknown>[]> {
  const bytes = new Uint8Array(await res.arrayBuffer());
  const headers: Record<string, unknown>[] = [];
  for (let at = 0; at < bytes.byteLength;) {
    const n = new DataView(bytes.buffer, at, 4).getUint32(0);
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(at + 4, at + 4 + n)));
    headers.push(header);
    at += 4 + n + ((header.bytes as number | undefined) ?? 0);
  }
  return headers;
}

Deno.test("a step stream sends heartbeats while its reader waits, and the version after them", async () => {
  await withServed(async (url) => {
    const strata = connect(url);
    await strata.createDataset("p", PARTICLES, { retention: 8 });
    await strata.publish("p", 1, "dataset", particles(1));
    // Version 2 comes after a few heartbeats; then nothing until the wait ends.
    const later = setTimeout(() => strata.publish("p", 2, "dataset", particles(2)), 400);
    try {
      const res = await fetch(`${url}/v1/datasets/p/fragments/cols/steps?from=1&wait=600`);
      const headers = await frameHeaders(res);
      const kinds = headers.map((h) =>
        h.heartbeat === true ? "beat" : h.error !== undefined ? "end" : `v${h.version}`
      );
      assert.equal(kinds[0], "v1");
      assert.equal(kinds.at(-1), "end");
      assert.equal((headers.at(-1)!.error as { code: string }).code, "timeout");
      // Heartbeats between the versions, and while the last wait ran out.
      const v2 = kinds.indexOf("v2");
      assert.ok(v2 > 1 && kinds.slice(1, v2).every((k) => k === "beat"), kinds.join(" "));
      assert.ok(kinds.slice(v2 + 1, -1).length > 0, kinds.join(" "));
      // The client's reader skips them.
      const versions: number[] = [];
      for await (const step of strata.steps("p", "cols", { from: 1, waitMs: 300 })) {
        versions.push(step.version);
      }
      assert.deepEqual(versions, [1, 2]);
    } finally {
      clearTimeout(later);
    }
  }, { heartbeatMs: 50 });
});
