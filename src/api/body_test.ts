import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { InvalidRequestError, PayloadTooLargeError, SizeMismatchError } from "../errors.ts";
import { EXACT_FROM, readBoundedBytes, readExactBody } from "./body.ts";
import { within } from "../http/_testing.ts";

/** A POST whose body streams `chunks`, under a `content-length` of `declared` when given. */
function streamed(chunks: Uint8Array[], declared?: number): Request {
  let at = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(c) {
      const next = chunks[at++];
      if (next === undefined) c.close();
      else c.enqueue(next);
    },
  });
  return new Request("http://x/", {
    method: "POST",
    body,
    headers: declared === undefined ? {} : { "content-length": String(declared) },
  });
}

Deno.test("readBoundedBytes() reads a large declared body into one buffer of its length", async () => {
  const n = EXACT_FROM + 12345;
  const bytes = new Uint8Array(n).map((_, i) => (i * 31) & 0xff);
  const chunks = [bytes.subarray(0, 1000), bytes.subarray(1000, 70_000), bytes.subarray(70_000)];
  const got = await readBoundedBytes(streamed(chunks, n), 1 << 20);
  assert.equal(got.buffer.byteLength, n, "no spare capacity kept alive");
  assert.deepEqual(got, bytes);
});

Deno.test("readBoundedBytes() reads a body past 32 MiB into a buffer made before its bytes", async () => {
  const n = (32 << 20) + 5;
  const bytes = new Uint8Array(n).map((_, i) => i % 251);
  const chunks = [bytes.subarray(0, 7), bytes.subarray(7, 1 << 24), bytes.subarray(1 << 24)];
  const got = await readBoundedBytes(streamed(chunks, n), 64 << 20);
  assert.equal(got.buffer.byteLength, n);
  assert.equal(Buffer.compare(got, bytes), 0);
  await assert.rejects(
    readBoundedBytes(streamed(chunks.slice(0, 2), n), 64 << 20),
    (e) => e instanceof InvalidRequestError && /bytes received of the/.test(e.message),
  );
});

Deno.test("readBoundedBytes() refuses a large body shorter or longer than it declares", async () => {
  const n = EXACT_FROM;
  await assert.rejects(
    readBoundedBytes(streamed([new Uint8Array(n - 1)], n), 1 << 20),
    (e) => e instanceof InvalidRequestError && /received of the 262144/.test(e.message),
  );
  await assert.rejects(
    readBoundedBytes(streamed([new Uint8Array(n), new Uint8Array(1)], n), 1 << 20),
    (e) => e instanceof InvalidRequestError && /longer than its content-length/.test(e.message),
  );
});

Deno.test("readBoundedBytes() refuses a declared body over its limit before reading it", async () => {
  let pulled = false;
  const body = new ReadableStream<Uint8Array>({
    pull(c) {
      pulled = true;
      c.close();
    },
  }, { highWaterMark: 0 });
  const req = new Request("http://x/", {
    method: "POST",
    body,
    headers: { "content-length": String(EXACT_FROM * 4) },
  });
  await assert.rejects(readBoundedBytes(req, EXACT_FROM), PayloadTooLargeError);
  assert.equal(pulled, false);
});

Deno.test("readBoundedBytes() reads small and undeclared bodies whole", async () => {
  const small = new Request("http://x/", { method: "POST", body: new Uint8Array([1, 2, 3]) });
  assert.deepEqual(await readBoundedBytes(small, 10), new Uint8Array([1, 2, 3]));
  const undeclared = streamed([new Uint8Array([1]), new Uint8Array([2, 3])]);
  assert.deepEqual(await readBoundedBytes(undeclared, 10), new Uint8Array([1, 2, 3]));
});

Deno.test("readExactBody() takes a streamed body of the layout's size, and refuses others", async () => {
  const options = { expected: 10, limit: 12, what: "fragment 'v'", fragment: "v" };
  const ten = new Uint8Array(10).map((_, i) => i);
  const got = await readExactBody(streamed([ten.subarray(0, 3), ten.subarray(3)]), options);
  assert.deepEqual(got, ten);
  assert.equal(got.buffer.byteLength, 10);
  await assert.rejects(
    readExactBody(streamed([ten.subarray(0, 9)]), options),
    (e) => e instanceof SizeMismatchError && /expected 10 bytes, received 9$/.test(e.message),
  );
  await assert.rejects(
    readExactBody(streamed([ten, new Uint8Array(1)]), options),
    (e) => e instanceof SizeMismatchError && /received more than 10$/.test(e.message),
  );
  await assert.rejects(
    readExactBody(streamed([ten, new Uint8Array(10)]), options),
    PayloadTooLargeError,
  );
});

Deno.test("A body that stalls mid-way is refused with a 400 once nothing came for idleMs, whatever its framing", async () => {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    try {
      const url = new URL(req.url);
      const bytes = url.pathname === "/exact"
        ? await readExactBody(req, { expected: 1 << 20, limit: 1 << 21, what: "x", idleMs: 100 })
        : await readBoundedBytes(req, 1 << 21, { idleMs: 100 });
      return new Response(`read ${bytes.byteLength}`);
    } catch (e) {
      assert.ok(e instanceof InvalidRequestError, String(e));
      return new Response(e.message, { status: 400 });
    }
  });
  /** Sends a head and the start of a body, then nothing: the answer, read from the socket. */
  const stall = async (path: string, headers: string, start: string) => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
    try {
      await conn.write(
        new TextEncoder().encode(`POST ${path} HTTP/1.1\r\nhost: x\r\n${headers}\r\n${start}`),
      );
      const buf = new Uint8Array(4096);
      let text = "";
      while (!/Request body stalled[^\r\n]*/.test(text)) {
        const n = await conn.read(buf);
        if (n === null) break;
        text += new TextDecoder().decode(buf.subarray(0, n));
      }
      return text;
    } finally {
      conn.close();
    }
  };
  const cases: [string, string, string, RegExp][] = [
    ["/small", "content-length: 100\r\n", "abc", /after a body of 100/],
    ["/large", `content-length: ${1 << 20}\r\n`, "abc", /after 3 bytes of a body/],
    ["/chunked", "transfer-encoding: chunked\r\n", "3\r\nabc\r\n", /after 3 bytes of a body/],
    ["/exact", `content-length: ${1 << 20}\r\n`, "abc", /after 3 bytes of a body/],
  ];
  try {
    for (const [path, headers, start, after] of cases) {
      const answer = await within(stall(path, headers, start), 10_000);
      assert.match(answer, /^HTTP\/1\.1 400/, path);
      assert.match(answer, /Request body stalled: nothing came for 100 ms/, path);
      assert.match(answer, after, path);
    }
  } finally {
    await server.shutdown();
  }
});
