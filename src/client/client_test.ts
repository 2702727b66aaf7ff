import assert from "node:assert/strict";
import { silentServer, within } from "../http/_testing.ts";
import { InvalidRequestError, UnavailableError } from "../errors.ts";
import { connect } from "./client.ts";
import { ServerError } from "./errors.ts";

const LAYOUT = {
  byteLength: 16,
  slots: [{
    name: "t",
    variable: "t",
    origin: [0],
    axes: [{ dim: 0, step: 1, count: 2 }],
    fields: [{ path: "", type: "float64", count: 1, offset: 0, strides: [8] }],
  }],
};

/** A server answering every attach with `body` in pieces, under `layout` (the one above by default). */
async function withServer(
  body: Uint8Array,
  fn: (url: string) => Promise<void>,
  layout: { readonly byteLength: number } = LAYOUT,
) {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, () => {
    const pieces = [body.subarray(0, 5), body.subarray(5)];
    const stream = new ReadableStream<Uint8Array>({
      pull(c) {
        const next = pieces.shift();
        if (next === undefined) c.close();
        else c.enqueue(next.slice());
      },
    });
    return new Response(stream, {
      headers: {
        "content-type": "application/octet-stream",
        "strata-version": "3",
        "strata-layout": JSON.stringify(layout),
      },
    });
  });
  try {
    await fn(`http://127.0.0.1:${server.addr.port}`);
  } finally {
    await server.shutdown();
  }
}

Deno.test("Client.attach() reads the bytes into the caller's buffer", async () => {
  const body = new Uint8Array(new Float64Array([1.5, -2]).buffer);
  await withServer(body, async (url) => {
    const into = new Uint8Array(16).fill(9);
    const got = await connect(url).attach("d", "dataset", { into });
    assert.equal(got.bytes, into);
    assert.equal(got.version, 3);
    assert.deepEqual(into, body);
    assert.deepEqual([...got.field("t")], [1.5, -2]);
  });
});

Deno.test("Client.attach() refuses an into buffer of the wrong size and writes nothing", async () => {
  await withServer(new Uint8Array(16).fill(1), async (url) => {
    for (const size of [15, 17]) {
      const into = new Uint8Array(size).fill(9);
      await assert.rejects(
        connect(url).attach("d", "dataset", { into }),
        (e) =>
          e instanceof InvalidRequestError &&
          e.message === `Cannot attach into a buffer of ${size} bytes: expected 16`,
      );
      assert.ok(into.every((b) => b === 9));
    }
  });
});

Deno.test("Client.attach() fails when the body does not match the layout, into a buffer or not", async () => {
  for (
    const [size, message] of [[12, "The server sent 12 bytes: expected 16"], [
      20,
      "The server sent more than the 16 bytes of the fragment's layout",
    ]] as const
  ) {
    await withServer(new Uint8Array(size), async (url) => {
      for (const options of [{ into: new Uint8Array(16) }, {}]) {
        await assert.rejects(
          connect(url).attach("d", "dataset", options),
          (e) => e instanceof ServerError && e.code === "size_mismatch" && e.message === message,
        );
      }
    });
  }
});

Deno.test("Client.attach() of a large fragment gives a buffer of exactly its size, and checks it", async () => {
  const byteLength = 512 * 1024 + 8;
  const layout = { ...LAYOUT, byteLength };
  const body = new Uint8Array(byteLength).map((_, i) => (i * 13) & 0xff);
  await withServer(body, async (url) => {
    const got = await connect(url).attach("d", "dataset");
    assert.deepEqual(got.bytes, body);
    assert.equal(got.bytes.buffer.byteLength, byteLength, "no spare capacity kept alive");
  }, layout);
  await withServer(body.subarray(0, byteLength - 8), async (url) => {
    await assert.rejects(
      connect(url).attach("d", "dataset"),
      (e) => e instanceof ServerError && e.code === "size_mismatch",
    );
  }, layout);
});

Deno.test("functions.invoke() refuses a result whose body is not its layout's size", async () => {
  for (const [size, ok] of [[16, true], [12, false], [20, false]] as const) {
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      () =>
        new Response(new Uint8Array(size), {
          headers: {
            "content-type": "application/octet-stream",
            "strata-function": JSON.stringify({ version: 1 }),
            "strata-layout": JSON.stringify(LAYOUT),
          },
        }),
    );
    try {
      const invoked = connect(`http://127.0.0.1:${server.addr.port}`).functions.invoke("f", "d");
      if (ok) assert.equal((await invoked).bytes?.byteLength, 16);
      else {
        await assert.rejects(
          invoked,
          (e) => e instanceof ServerError && e.code === "size_mismatch" && e.status === 200,
        );
      }
    } finally {
      await server.shutdown();
    }
  }
});

Deno.test("connect() with timeoutMs fails a call the server leaves unanswered, its wait added", async () => {
  // Takes connections and reads requests, never answers: a process stopped without closing them.
  await using silent = silentServer();
  const url = silent.url;
  const strata = connect(url, { timeoutMs: 50 });
  const timedOut = (ms: number) => (e: unknown) =>
    e instanceof UnavailableError &&
    e.message.startsWith(`Server ${url} did not answer within ${ms} ms`);
  await assert.rejects(within(strata.describeDataset("d"), 10_000), timedOut(50));
  await assert.rejects(within(strata.attach("d", "dataset", { waitMs: 30 }), 10_000), timedOut(80));
  // A step stream has no deadline, but the head of its answer does.
  const steps = async () => {
    for await (const _ of strata.steps("d", "dataset")) break;
  };
  await assert.rejects(within(steps(), 10_000), timedOut(50));
  // Function calls too.
  await assert.rejects(within(strata.functions.list(), 10_000), timedOut(50));
  assert.throws(() => connect(url, { timeoutMs: 0 }), /Invalid timeoutMs/);
});
