import assert from "node:assert/strict";
import { BusyError, LayoutError, WaitTimeoutError } from "../src/errors.ts";
import { RemoteNameService } from "../src/cluster/name_client.ts";
import { WireClient } from "../src/wire/client.ts";
import { embeddedRuntime } from "./_cluster.ts";
import { withDir } from "./_fixtures.ts";
import { INLINE_MAX_BYTES } from "../src/name_service/name_service.ts";
import { Runtime } from "../src/runtime/runtime.ts";
import { openMemoryAndFile } from "../src/tiers/memory_and_file.ts";
import { startServer } from "./_server.ts";

const put = (url: string, dataset: string, version: number, value: number, n = 4) =>
  fetch(`${url}/v1/datasets/${dataset}/versions/${version}/fragments/dataset`, {
    method: "PUT",
    headers: { "content-type": "application/octet-stream" },
    body: new Uint8Array(new Float64Array(n).fill(value).buffer),
  }).then((r) => r.json());

/** Creates dataset `name` of `n` float64 (32 bytes by default: its copies go inline with notices). */
const create = (url: string, name: string, n = 4) =>
  fetch(`${url}/v1/datasets`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name, description: `dataset s { var x [${n}]float64 }`, retention: 8 }),
  }).then((r) => r.body?.cancel());

/** Float64 values of a copy past INLINE_MAX_BYTES: fetched over the data plane, never inline. */
const LARGE = INLINE_MAX_BYTES / 8 + 8;

/** The consumer's runtime: node `consumer`, 1 MiB of memory and of file tier under `dir`. */
const consumer = (names: RemoteNameService, wire: WireClient, dir: string) =>
  embeddedRuntime("consumer", names, wire, dir);

Deno.test("Runtime.subscribe() over HTTP takes each version the server commits, fetched ahead over the data plane", async () => {
  const server = await startServer();
  const names = new RemoteNameService({ urls: [server.url], node: "consumer" });
  const wire = new WireClient({ node: "consumer" });
  try {
    await withDir(async (dir) => {
      await create(server.url, "steps", LARGE);
      const runtime = await consumer(names, wire, dir);
      const stream = runtime.subscribe({ dataset: "steps", fragment: "dataset", bindings: {} }, {
        ahead: 2,
      });
      for (let v = 1; v <= 4; v++) {
        assert.equal((await put(server.url, "steps", v, v, LARGE)).committed, true);
      }
      const into = new Uint8Array(LARGE * 8);
      for (let v = 1; v <= 4; v++) {
        const got = await stream.next({ into, timeoutMs: 10_000 });
        assert.deepEqual([got.version, got.dropped], [v, 0]);
        assert.equal(got.bytes, into);
        assert.ok(new Float64Array(into.buffer).every((x) => x === v));
      }
      stream.close();
    });
  } finally {
    wire.close();
    names.close();
    await server.stop();
  }
});

Deno.test("Runtime.subscribe() over HTTP takes small versions from their notices: a consumer with no data plane gets them", async () => {
  const server = await startServer();
  const names = new RemoteNameService({ urls: [server.url], node: "consumer" });
  try {
    await withDir(async (dir) => {
      await create(server.url, "small");
      await create(server.url, "large", LARGE);
      // No data plane: any version it takes came with its notice.
      const runtime = new Runtime({
        node: "consumer",
        names,
        tiers: await openMemoryAndFile({
          node: "consumer",
          dataDir: dir,
          memory: 1 << 20,
          file: 0,
        }),
      });
      const small = runtime.subscribe({ dataset: "small", fragment: "dataset", bindings: {} });
      const large = runtime.subscribe({ dataset: "large", fragment: "dataset", bindings: {} });
      // Held by the name server before anything is published: every small copy comes inline.
      await Promise.all([small.ready, large.ready]);
      for (let v = 1; v <= 3; v++) {
        assert.equal((await put(server.url, "small", v, v * 1.5)).committed, true);
      }
      assert.equal((await put(server.url, "large", 1, 1, LARGE)).committed, true);
      for (let v = 1; v <= 3; v++) {
        const got = await small.next({ timeoutMs: 10_000 });
        assert.equal(got.version, v);
        assert.deepEqual([...new Float64Array(got.bytes.buffer)], [1, 2, 3, 4].map(() => v * 1.5));
      }
      // A version past INLINE_MAX_BYTES is fetched from its node, which this runtime cannot reach.
      await assert.rejects(large.next({ timeoutMs: 10_000 }), /no data plane to fetch it/);
      small.close();
      large.close();
    });
  } finally {
    names.close();
    await server.stop();
  }
});

Deno.test("A subscription over HTTP is ready once the name server holds it, and its ready rejects when refused", async () => {
  const server = await startServer();
  const names = new RemoteNameService({ urls: [server.url], node: "consumer" });
  try {
    await create(server.url, "held");
    const sub = names.subscribe({ dataset: "held", fragment: "dataset", bindings: {} });
    // Ready before anything was committed: the name server's first line says so.
    await sub.ready;
    assert.equal(await sub.next(50), undefined);
    sub.close();
    // A fragment the dataset does not declare: the stream fails before its first line.
    const refused = names.subscribe({ dataset: "held", fragment: "nosuch", bindings: {} });
    await assert.rejects(refused.ready!, LayoutError);
    refused.close();
  } finally {
    names.close();
    await server.stop();
  }
});

Deno.test("A subscription with policy fail ends with BusyError once its consumer falls behind its limit", async () => {
  const server = await startServer();
  const names = new RemoteNameService({ urls: [server.url], node: "consumer" });
  try {
    await create(server.url, "busy");
    const sub = names.subscribe({
      dataset: "busy",
      fragment: "dataset",
      bindings: {},
      limit: 2,
      policy: "fail",
    });
    assert.equal(await sub.next(200), undefined);
    for (let v = 1; v <= 6; v++) await put(server.url, "busy", v, v);
    // What was pushed before the overflow still arrives, then the failure.
    const seen: number[] = [];
    await assert.rejects(
      (async () => {
        for (;;) seen.push((await sub.next(10_000))!.version);
      })(),
      BusyError,
    );
    assert.ok(seen.length <= 3, `${seen}`);
    sub.close();
    const bad = await fetch(
      `${server.url}/v1/cluster/datasets/busy/fragments/dataset/subscribe?limit=0`,
    );
    assert.equal(bad.status, 400);
    assert.equal((await bad.json()).error.code, "invalid_request");
  } finally {
    names.close();
    await server.stop();
  }
});

Deno.test("Runtimes in one consumer group over HTTP take every version exactly once between them", async () => {
  const server = await startServer();
  const names = new RemoteNameService({ urls: [server.url], node: "consumer" });
  const wire = new WireClient({ node: "consumer" });
  try {
    await withDir(async (dir) => {
      await create(server.url, "work");
      const runtime = await consumer(names, wire, dir);
      const query = { dataset: "work", fragment: "dataset", bindings: {}, group: "ranks" };
      // Two ranks of a round-robin group, each fetching one version ahead.
      const ranks = [0, 1].map(() =>
        runtime.subscribe({ ...query, assign: "round-robin" }, { ahead: 1 })
      );
      // Wait until both subscriptions are open at the name server.
      await new Promise((r) => setTimeout(r, 200));
      const steps = 8;
      for (let v = 1; v <= steps; v++) {
        assert.equal((await put(server.url, "work", v, v)).committed, true);
      }
      const taken: number[][] = [[], []];
      for (let i = 0; i < steps / 2; i++) {
        for (const r of [0, 1]) {
          const got = await ranks[r]!.next({ timeoutMs: 10_000 });
          assert.deepEqual([...new Float64Array(got.bytes.buffer)], Array(4).fill(got.version));
          taken[r]!.push(got.version);
        }
      }
      assert.deepEqual(taken[0], [1, 3, 5, 7]);
      assert.deepEqual(taken[1], [2, 4, 6, 8]);
      for (const r of ranks) r.close();
      const mixed = await fetch(
        `${server.url}/v1/cluster/datasets/work/fragments/dataset/subscribe?assign=round-robin`,
      );
      assert.equal(mixed.status, 400);
      assert.match((await mixed.json()).error.message, /needs a 'group'/);
    });
  } finally {
    wire.close();
    names.close();
    await server.stop();
  }
});

Deno.test("A subscriber with policy block over HTTP holds the producer's commits until its consumer takes versions", async () => {
  const server = await startServer();
  const names = new RemoteNameService({ urls: [server.url], node: "consumer" });
  try {
    await create(server.url, "held");
    const sub = names.subscribe({
      dataset: "held",
      fragment: "dataset",
      bindings: {},
      limit: 2,
      policy: "block",
      blockMs: 60_000,
    });
    assert.equal(await sub.next(200), undefined);
    // Two versions queued at each end, then the commits wait.
    for (let v = 1; v <= 4; v++) {
      assert.equal((await put(server.url, "held", v, v)).committed, true);
    }
    let fifth = false;
    const publishing = put(server.url, "held", 5, 5).then((r) => (fifth = r.committed));
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(fifth, false, "version 5 waits for the consumer");
    const seen: number[] = [];
    for (let i = 0; i < 5; i++) {
      const n = await sub.next(10_000);
      assert.equal(n?.dropped, 0);
      seen.push(n!.version);
    }
    await publishing;
    assert.equal(fifth, true);
    assert.deepEqual(seen, [1, 2, 3, 4, 5]);
    sub.close();
    const unknown = await fetch(`${server.url}/v1/cluster/subscriptions/nope/taken`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ count: 1 }),
    });
    assert.equal(unknown.status, 404);
    await unknown.body?.cancel();
  } finally {
    names.close();
    await server.stop();
  }
});

Deno.test("A subscription's wait that runs out says when its dataset does not exist, and takes it once created", async () => {
  const server = await startServer();
  const names = new RemoteNameService({ urls: [server.url], node: "consumer" });
  const wire = new WireClient({ node: "consumer" });
  try {
    await withDir(async (dir) => {
      const runtime = await consumer(names, wire, dir);
      const stream = runtime.subscribe({ dataset: "later", fragment: "dataset", bindings: {} });
      await assert.rejects(
        stream.next({ timeoutMs: 200 }),
        (e: Error) =>
          e instanceof WaitTimeoutError && /no dataset 'later' exists yet/.test(e.message),
      );
      // Created after the subscription: it still takes the first version.
      await create(server.url, "later");
      assert.equal((await put(server.url, "later", 1, 5)).committed, true);
      const got = await stream.next({ timeoutMs: 10_000 });
      assert.equal(got.version, 1);
      assert.deepEqual([...new Float64Array(got.bytes.slice().buffer)], [5, 5, 5, 5]);
      // A dataset that exists: the plain timeout.
      await assert.rejects(
        stream.next({ timeoutMs: 100 }),
        (e: Error) => e instanceof WaitTimeoutError && !/exists yet/.test(e.message),
      );
      stream.close();
      await runtime.close();
    });
  } finally {
    wire.close();
    names.close();
    await server.stop();
  }
});
