import assert from "node:assert/strict";
import { UnavailableError } from "../errors.ts";
import { remoteSubscription } from "./remote_subscription.ts";

Deno.test("a block subscription whose reports of versions taken keep failing fails saying why", async () => {
  let reports = 0;
  const notice = (v: number) =>
    `${
      JSON.stringify({ version: v, layout: { byteLength: 0, slots: [] }, sources: [], dropped: 0 })
    }\n`;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    if (req.url.includes("/taken")) {
      reports++;
      return new Response('{"error":{"code":"internal","message":"down"}}', { status: 500 });
    }
    // Two versions, then the stream stays open: the credit is what is awaited.
    return new Response(
      new ReadableStream({
        start(c) {
          streams.push(c);
          c.enqueue(new TextEncoder().encode(notice(1) + notice(2)));
        },
      }),
    );
  });
  // Ended by the test: a server does not see a client gone from a stream it
  // never writes to again, and its shutdown would wait for it.
  const streams: ReadableStreamDefaultController<Uint8Array>[] = [];
  const sub = remoteSubscription(`http://127.0.0.1:${server.addr.port}`, undefined, {
    dataset: "t",
    fragment: "dataset",
    bindings: {},
    limit: 2,
    policy: "block",
  });
  try {
    assert.equal((await sub.next(5000))?.version, 1);
    assert.equal((await sub.next(5000))?.version, 2);
    await assert.rejects(sub.next(5000), (e) => {
      assert.ok(e instanceof UnavailableError);
      assert.match(e.message, /did not take this subscription's report of 1 versions taken/);
      return true;
    });
    assert.ok(reports >= 3, `${reports} reports`);
  } finally {
    sub.close();
    for (const c of streams) {
      try {
        c.close();
      } catch {
        // Cancelled already: the client's abort reached the server.
      }
    }
    await server.shutdown();
  }
});

Deno.test("a subscription whose name server goes silent fails saying so", async () => {
  let stop!: () => void;
  const stopped = new Promise<void>((r) => stop = r);
  // The first heartbeat, then nothing: a name server stopped without closing the stream.
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () =>
    new Response(
      new ReadableStream({
        async start(c) {
          c.enqueue(new TextEncoder().encode("{}\n"));
          await stopped;
          c.close();
        },
      }),
    ));
  const url = `http://127.0.0.1:${server.addr.port}`;
  const sub = remoteSubscription(url, undefined, {
    dataset: "t",
    fragment: "dataset",
    bindings: {},
  }, { silenceMs: 500 });
  try {
    await sub.ready;
    await assert.rejects(sub.next(5000), (e) => {
      assert.ok(e instanceof UnavailableError);
      assert.match(e.message, /sent nothing on the subscription to 't' for 500 ms/);
      return true;
    });
  } finally {
    sub.close();
    stop();
    await server.shutdown();
  }
});
