import assert from "node:assert/strict";
import { crc32 } from "node:zlib";
import { StrataError } from "../errors.ts";
import type { FragmentLayout } from "../transform/layout.ts";
import { encodeFrame, PROTOCOL, type WireCopy } from "./codec.ts";
import { WireClient } from "./client.ts";
import { WireServer, type WireServerOptions } from "./server.ts";
import { FrameReader } from "./stream.ts";

/** `n` float64 elements of variable `t`. */
function rows(n: number): FragmentLayout {
  return {
    byteLength: n * 8,
    slots: [{
      name: "t",
      variable: "t",
      origin: [0],
      axes: [{ dim: 0, step: 1, count: n }],
      fields: [{ path: "", type: "float64", count: 1, offset: 0, strides: [8] }],
    }],
  };
}

const STORED = new Uint8Array(new Float64Array([1, 2, 3, 4]).buffer);
const COPY: WireCopy = {
  dataset: "d",
  version: 1,
  fragment: "dataset",
  bindings: {},
  layout: rows(4),
  byteLength: 32,
  checksum: crc32(STORED),
};

function listen(options: Partial<WireServerOptions> = {}): WireServer {
  return WireServer.listen({
    port: 0,
    node: "a",
    source: {
      produce: (_copy, want) => {
        const bytes = STORED.slice(0, want.byteLength);
        return Promise.resolve({ bytes, checksum: crc32(bytes) });
      },
    },
    ...options,
  });
}

const peerOf = (s: WireServer) => ({ node: "a", hostname: "127.0.0.1", port: s.port });

/** Waits until `test` holds, for at most `ms`. */
async function until(test: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!test()) {
    if (Date.now() > end) throw new Error(`Still not so after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

Deno.test("WireServer answers a fetch of 2^40 elements with invalid_request, not internal", async () => {
  await using server = listen();
  using client = new WireClient({ node: "b" });
  await assert.rejects(
    client.fetch(peerOf(server), COPY, rows(2 ** 40)),
    (e) =>
      e instanceof StrataError && e.code === "invalid_request" &&
      e.message.includes("asks for 1099511627776 elements of 't', the copy holds 4"),
  );
  // The connection stays in step: the next fetch is answered.
  assert.deepEqual(await client.fetch(peerOf(server), COPY, rows(2)), STORED.slice(0, 16));
});

Deno.test("WireServer closes a connection that sends no hello within its deadline", async () => {
  await using server = listen({ helloTimeoutMs: 100 });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  const started = Date.now();
  assert.equal(await new FrameReader(conn).readFrame(), null);
  assert.ok(Date.now() - started < 2000);
  conn.close();
  await until(() => server.connections.pending === 0, 1000);
});

Deno.test("WireServer closes a connection idle past its deadline, and the client asks again on a new one", async () => {
  await using server = listen({ idleTimeoutMs: 100 });
  using client = new WireClient({ node: "b" });
  assert.deepEqual(await client.fetch(peerOf(server), COPY, rows(4)), STORED);
  await until(() => server.connections.established === 0, 2000);
  // The pooled connection is closed at the server: the fetch goes out again on a new one.
  assert.deepEqual(await client.fetch(peerOf(server), COPY, rows(4)), STORED);
});

Deno.test("WireServer serves a peer while many connections that never say hello stay open", async () => {
  await using server = listen({ maxPending: 16, maxPerAddress: 32 });
  const idle: Deno.TcpConn[] = [];
  try {
    for (let i = 0; i < 300; i++) {
      idle.push(await Deno.connect({ hostname: "127.0.0.1", port: server.port }));
    }
    using client = new WireClient({ node: "b" });
    assert.deepEqual(await client.fetch(peerOf(server), COPY, rows(4)), STORED);
    assert.ok(server.connections.pending <= 16, JSON.stringify(server.connections));
  } finally {
    for (const c of idle) c.close();
  }
});

Deno.test("WireServer refuses a peer address past its limit when all its connections said hello", async () => {
  await using server = listen({ maxPerAddress: 2 });
  const hello = encodeFrame({ kind: "hello", protocol: PROTOCOL, node: "b", token: "" });
  const open: Deno.TcpConn[] = [];
  try {
    for (let i = 0; i < 3; i++) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
      open.push(conn);
      await conn.write(hello);
      const frame = await new FrameReader(conn).readFrame();
      if (i < 2) assert.equal(frame?.kind, "hello");
      else assert.equal(frame?.kind === "failure" && frame.code, "unavailable");
    }
  } finally {
    for (const c of open) c.close();
  }
});
