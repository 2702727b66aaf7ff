import assert from "node:assert/strict";
import { crc32 } from "node:zlib";
import {
  ChecksumError,
  InvalidRequestError,
  LostError,
  StrataError,
  UnavailableError,
} from "../errors.ts";
import type { FragmentLayout } from "../transform/layout.ts";
import { decodeFrame, type WireCopy } from "./codec.ts";
import { WireClient } from "./client.ts";
import { type FragmentSource, WireServer, type WireServerOptions } from "./server.ts";
import { FrameReader } from "./stream.ts";
import { within } from "../http/_testing.ts";

function bytesLayout(n: number): FragmentLayout {
  return {
    byteLength: n,
    slots: [{
      name: "b",
      variable: "b",
      origin: [0],
      axes: [{ dim: 0, step: 1, count: n }],
      fields: [{ path: "", type: "uint8", count: 1, offset: 0, strides: [1] }],
    }],
  };
}

/** A source holding copies in a map, as a runtime's memory tier would. */
class MapSource implements FragmentSource {
  readonly copies = new Map<string, Uint8Array>();
  lie = false;
  gate: Promise<void> | undefined;
  released = 0;
  /** Hands each payload out as a scratch copy that is released once written. */
  scratch = false;
  produce(copy: WireCopy, want: FragmentLayout) {
    const run = async () => {
      await this.gate;
      const bytes = this.copies.get(copy.dataset);
      if (bytes === undefined) throw new LostError(copy.dataset, copy.version, copy.fragment);
      const out = bytes.subarray(0, want.byteLength);
      const checksum = this.lie ? crc32(out) ^ 1 : crc32(out);
      if (!this.scratch) return { bytes: out, checksum };
      return { bytes: out.slice(), checksum, release: () => this.released++ };
    };
    return run();
  }
}

function copyOf(dataset: string, bytes: Uint8Array): WireCopy {
  return {
    dataset,
    version: 1,
    fragment: "dataset",
    bindings: {},
    layout: bytesLayout(bytes.length),
    byteLength: bytes.length,
    checksum: crc32(bytes),
  };
}

async function withServer(
  fn: (server: WireServer, source: MapSource) => Promise<void>,
  options: Omit<Partial<WireServerOptions>, "source"> = {},
) {
  const source = new MapSource();
  const server = WireServer.listen({ port: 0, node: "a", source, ...options });
  try {
    await fn(server, source);
  } finally {
    await server.close();
  }
}

const peerOf = (s: WireServer) => ({ node: "a", hostname: "127.0.0.1", port: s.port });

Deno.test("WireClient.fetch() moves a payload intact and reuses pooled connections", async () => {
  await withServer(async (server, source) => {
    const big = new Uint8Array(3 << 20).map((_, i) => (i * 7) & 0xff);
    source.copies.set("big", big);
    using client = new WireClient({ node: "b", connectionsPerPeer: 2 });
    const all = await Promise.all(
      Array.from(
        { length: 8 },
        () => client.fetch(peerOf(server), copyOf("big", big), bytesLayout(big.length)),
      ),
    );
    for (const got of all) assert.deepEqual(got, big);
    assert.deepEqual(client.connections, { [`127.0.0.1:${server.port}`]: 2 });
    const part = await client.fetch(peerOf(server), copyOf("big", big), bytesLayout(1000));
    assert.deepEqual(part, big.subarray(0, 1000));
  });
});

Deno.test("WireClient.fetch() passes on the source's failure and keeps the connection", async () => {
  await withServer(async (server, source) => {
    source.copies.set("here", new Uint8Array([1, 2, 3]));
    using client = new WireClient({ node: "b", connectionsPerPeer: 1 });
    const gone = copyOf("gone", new Uint8Array(3));
    await assert.rejects(
      client.fetch(peerOf(server), gone, bytesLayout(3)),
      (e) =>
        e instanceof StrataError && e.code === "gone" &&
        e.message ===
          "Version 1 of 'gone' is lost: fragment 'dataset' was held only in memory and is gone",
    );
    const got = await client.fetch(
      peerOf(server),
      copyOf("here", new Uint8Array([1, 2, 3])),
      bytesLayout(3),
    );
    assert.deepEqual(got, new Uint8Array([1, 2, 3]));
    assert.equal(Object.values(client.connections)[0], 1);
  });
});

Deno.test("WireClient.fetch() throws ChecksumError, never data, when the checksum does not match", async () => {
  await withServer(async (server, source) => {
    const bytes = new Uint8Array(100_000).fill(5);
    source.copies.set("d", bytes);
    source.lie = true;
    using client = new WireClient({ node: "b" });
    await assert.rejects(
      client.fetch(peerOf(server), copyOf("d", bytes), bytesLayout(bytes.length)),
      (e) => e instanceof ChecksumError && e.message.includes("d/1/dataset/ from node 'a'"),
    );
    source.lie = false;
    assert.deepEqual(
      await client.fetch(peerOf(server), copyOf("d", bytes), bytesLayout(bytes.length)),
      bytes,
    );
  });
});

Deno.test("WireServer refuses a peer without the cluster token", async () => {
  await withServer(async (server, source) => {
    source.copies.set("d", new Uint8Array(4));
    using wrong = new WireClient({ node: "b", token: "not-it" });
    await assert.rejects(
      wrong.fetch(peerOf(server), copyOf("d", new Uint8Array(4)), bytesLayout(4)),
      (e) => e instanceof StrataError && e.code === "unauthorized",
    );
    using right = new WireClient({ node: "b", token: "s3cret-token" });
    assert.deepEqual(
      await right.fetch(peerOf(server), copyOf("d", new Uint8Array(4)), bytesLayout(4)),
      new Uint8Array(4),
    );
  }, { token: "s3cret-token" });
});

Deno.test("WireClient.fetch() throws UnavailableError when nothing listens", async () => {
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = probe.addr.port;
  probe.close();
  using client = new WireClient({ node: "b" });
  await assert.rejects(
    client.fetch(
      { node: "z", hostname: "127.0.0.1", port },
      copyOf("d", new Uint8Array(1)),
      bytesLayout(1),
    ),
    (e) =>
      e instanceof UnavailableError &&
      e.message.startsWith(`Node 'z' does not answer at 127.0.0.1:${port}`),
  );
});

Deno.test("WireServer answers bytes that are not a frame with a wire_protocol failure and closes", async () => {
  await withServer(async (server) => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    // Segment count 1000: not a frame this server accepts.
    await conn.write(new Uint8Array([0xe7, 0x03, 0, 0, 0, 0, 0, 0]));
    const reader = new FrameReader(conn);
    const frame = await reader.readFrame();
    assert.equal(frame?.kind, "failure");
    assert.equal(frame?.kind === "failure" && frame.code, "wire_protocol");
    assert.equal(await reader.readFrame(), null);
    conn.close();
  });
});

Deno.test("WireClient refuses requests past its queue bound instead of growing it", async () => {
  await withServer(async (server, source) => {
    source.copies.set("d", new Uint8Array(8));
    let open!: () => void;
    source.gate = new Promise((r) => (open = r));
    using client = new WireClient({ node: "b", connectionsPerPeer: 1, maxQueued: 2 });
    const fetchOne = () =>
      client.fetch(peerOf(server), copyOf("d", new Uint8Array(8)), bytesLayout(8));
    const first = fetchOne();
    // Let the first request take the only connection before the others queue.
    while (Object.values(client.connections)[0] !== 1) await new Promise((r) => setTimeout(r, 1));
    const queued = [fetchOne(), fetchOne()];
    await assert.rejects(
      fetchOne(),
      (e) => e instanceof UnavailableError && e.message.includes("2 wait already"),
    );
    open();
    for (const got of await Promise.all([first, ...queued])) {
      assert.deepEqual(got, new Uint8Array(8));
    }
  });
});

/** A raw connection to `server` that has said hello. */
async function helloed(server: WireServer): Promise<{ conn: Deno.TcpConn; reader: FrameReader }> {
  const { encodeFrame, PROTOCOL } = await import("./codec.ts");
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  await conn.write(encodeFrame({ kind: "hello", protocol: PROTOCOL, node: "b", token: "" }));
  return { conn, reader: new FrameReader(conn) };
}

Deno.test("WireServer refuses connections past maxConnections with unavailable", async () => {
  await withServer(async (server) => {
    const held = await helloed(server);
    assert.equal((await held.reader.readFrame())?.kind, "hello");
    const extra = await helloed(server);
    const frame = await extra.reader.readFrame();
    assert.equal(frame?.kind === "failure" && frame.code, "unavailable");
    extra.conn.close();
    held.conn.close();
  }, { maxConnections: 1 });
});

Deno.test("WireServer answers hello with its own node name", async () => {
  await withServer(async (server) => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    const { encodeFrame, PROTOCOL } = await import("./codec.ts");
    await conn.write(encodeFrame({ kind: "hello", protocol: PROTOCOL, node: "b", token: "" }));
    const frame = await new FrameReader(conn).readFrame();
    assert.deepEqual(frame, { kind: "hello", protocol: PROTOCOL, node: "a", token: "" });
    assert.equal(decodeFrame(encodeFrame(frame!)).kind, "hello");
    conn.close();
  });
});

Deno.test("WireClient.fetch() receives into the caller's buffer when given one", async () => {
  await withServer(async (server, source) => {
    const big = new Uint8Array(2 << 20).map((_, i) => (i * 11) & 0xff);
    source.copies.set("big", big);
    source.scratch = true;
    using client = new WireClient({ node: "b" });
    const into = new Uint8Array(big.length).fill(9);
    const got = await client.fetch(peerOf(server), copyOf("big", big), bytesLayout(big.length), {
      into,
    });
    assert.equal(got, into);
    assert.deepEqual(into, big);
    assert.equal(source.released, 1);
  });
});

Deno.test("WireClient.fetch() refuses an into buffer of the wrong size before sending", async () => {
  await withServer(async (server, source) => {
    const bytes = new Uint8Array([1, 2, 3, 4]);
    source.copies.set("d", bytes);
    using client = new WireClient({ node: "b" });
    const into = new Uint8Array(5).fill(9);
    await assert.rejects(
      client.fetch(peerOf(server), copyOf("d", bytes), bytesLayout(4), { into }),
      (e) =>
        e instanceof InvalidRequestError &&
        e.message === "Cannot fetch 'd/1/dataset/' into a buffer of 5 bytes: expected 4",
    );
    assert.deepEqual(into, new Uint8Array(5).fill(9));
    assert.deepEqual(client.connections, {});
  });
});

Deno.test("WireServer releases a scratch payload once written, also when the peer hangs up", async () => {
  await withServer(async (server, source) => {
    const big = new Uint8Array(8 << 20);
    source.copies.set("d", big);
    source.scratch = true;
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    const { encodeFrame, PROTOCOL } = await import("./codec.ts");
    await conn.write(encodeFrame({ kind: "hello", protocol: PROTOCOL, node: "b", token: "" }));
    const reader = new FrameReader(conn);
    await reader.readFrame();
    await conn.write(
      encodeFrame({ kind: "fetch", id: 1, copy: copyOf("d", big), want: bytesLayout(big.length) }),
    );
    assert.equal((await reader.readFrame())?.kind, "header");
    conn.close(); // mid-payload
    while (source.released === 0) await new Promise((r) => setTimeout(r, 5));
    assert.equal(source.released, 1);
  });
});

Deno.test("WireClient closes connections idle past idleMs and forgets a peer it holds none to", async () => {
  await withServer(async (server, source) => {
    const bytes = new Uint8Array([1, 2, 3, 4]);
    source.copies.set("d", bytes);
    using client = new WireClient({ node: "b", idleMs: 50 });
    assert.deepEqual(await client.fetch(peerOf(server), copyOf("d", bytes), bytesLayout(4)), bytes);
    assert.deepEqual(client.connections, { [`127.0.0.1:${server.port}`]: 1 });
    await within(
      (async () => {
        while (Object.keys(client.connections).length > 0) {
          await new Promise((r) => setTimeout(r, 10));
        }
      })(),
      10_000,
    );
    // The next fetch opens a new connection.
    assert.deepEqual(await client.fetch(peerOf(server), copyOf("d", bytes), bytesLayout(4)), bytes);
    assert.deepEqual(client.connections, { [`127.0.0.1:${server.port}`]: 1 });
  });
});
