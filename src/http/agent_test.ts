import assert from "node:assert/strict";
import { HttpAgent } from "./agent.ts";
import { stopListening, within } from "./_testing.ts";

/** A `Deno.serve` server on a free loopback port, and the client ports it saw. */
function serve(handler: (req: Request) => Response | Promise<Response>) {
  const ports = new Set<number>();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req, info) => {
    ports.add(info.remoteAddr.port);
    return handler(req);
  });
  return { url: `http://127.0.0.1:${server.addr.port}`, ports, server };
}

/** A raw TCP server answering each connection with `reply(requestHead)` bytes, then as `after` says. */
function rawServer(
  reply: (head: string, n: number) => Uint8Array | string,
  after: "close" | "keep" = "close",
) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let n = 0;
  const conns: Deno.Conn[] = [];
  const done = (async () => {
    for await (const conn of listener) {
      conns.push(conn);
      (async () => {
        const buf = new Uint8Array(1 << 16);
        let text = "";
        try {
          for (;;) {
            const r = await conn.read(buf);
            if (r === null) break;
            text += new TextDecoder().decode(buf.subarray(0, r));
            const end = text.indexOf("\r\n\r\n");
            if (end < 0) continue;
            const head = text.slice(0, end);
            const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
            if (text.length < end + 4 + length) continue;
            text = text.slice(end + 4 + length);
            const out = reply(head, n++);
            await conn.write(typeof out === "string" ? new TextEncoder().encode(out) : out);
            if (after === "close") break;
          }
        } catch {
          // The client went away.
        }
        try {
          conn.close();
        } catch {
          // Closed already.
        }
      })();
    }
  })();
  return {
    url: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    close: () => stopListening(listener, conns, done),
  };
}

Deno.test("HttpAgent sends JSON and bytes, and reuses one connection for calls in turn", async () => {
  const s = serve(async (req) =>
    Response.json({
      method: req.method,
      type: req.headers.get("content-type"),
      auth: req.headers.get("authorization"),
      length: (await req.arrayBuffer()).byteLength,
      path: new URL(req.url).pathname + new URL(req.url).search,
    })
  );
  const agent = new HttpAgent();
  try {
    for (let i = 0; i < 5; i++) {
      const res = await agent.fetch(`${s.url}/v1/x?i=${i}`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: "Bearer t" },
        body: JSON.stringify({ i }),
      });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("content-type"), "application/json");
      assert.deepEqual(await res.json(), {
        method: "POST",
        type: "application/json",
        auth: "Bearer t",
        length: JSON.stringify({ i }).length,
        path: `/v1/x?i=${i}`,
      });
    }
    const bytes = await agent.fetch(`${s.url}/b`, {
      method: "PUT",
      body: new Uint8Array(1000),
    });
    assert.deepEqual((await bytes.json()).length, 1000);
    const text = await agent.fetch(`${s.url}/t`, { method: "POST", body: "héllo" });
    assert.equal((await text.json()).type, "text/plain;charset=UTF-8");
    assert.equal(s.ports.size, 1, "calls in turn share one connection");
  } finally {
    await agent.close();
    await s.server.shutdown();
  }
});

Deno.test("HttpAgent opens a connection per request in flight, up to its bound", async () => {
  let inFlight = 0;
  let most = 0;
  const s = serve(async () => {
    most = Math.max(most, ++inFlight);
    await new Promise((r) => setTimeout(r, 20));
    inFlight--;
    return new Response("ok");
  });
  const agent = new HttpAgent({ maxConnections: 3 });
  try {
    const answers = await Promise.all(
      Array.from({ length: 10 }, () => agent.fetch(s.url).then((r) => r.text())),
    );
    assert.deepEqual(answers, Array(10).fill("ok"));
    assert.equal(most, 3);
    assert.equal(s.ports.size, 3);
  } finally {
    await agent.close();
    await s.server.shutdown();
  }
});

Deno.test("HttpAgent streams long and chunked answers, and sends long bodies", async () => {
  const big = new Uint8Array(5 << 20).map((_, i) => i * 7);
  const s = serve(async (req) => {
    const path = new URL(req.url).pathname;
    if (path === "/big") return new Response(big);
    if (path === "/chunked") {
      let k = 0;
      return new Response(
        new ReadableStream({
          pull(c) {
            if (k === 5) return c.close();
            c.enqueue(new TextEncoder().encode(`part ${k++};`));
          },
        }),
      );
    }
    const got = new Uint8Array(await req.arrayBuffer());
    let sum = 0;
    for (const b of got) sum = (sum + b) % 1_000_003;
    return Response.json({ length: got.byteLength, sum });
  });
  const agent = new HttpAgent({ wholeBytes: 1 << 20 });
  try {
    const res = await agent.fetch(`${s.url}/big`);
    assert.notEqual(res.body, null);
    assert.deepEqual(new Uint8Array(await res.arrayBuffer()), big);
    assert.equal(
      await (await agent.fetch(`${s.url}/chunked`)).text(),
      "part 0;part 1;part 2;part 3;part 4;",
    );
    let sum = 0;
    for (const b of big) sum = (sum + b) % 1_000_003;
    const sent = await agent.fetch(`${s.url}/sum`, { method: "POST", body: big });
    assert.deepEqual(await sent.json(), { length: big.byteLength, sum });
    // Each answer read to its end left its connection for the next call.
    assert.equal(s.ports.size, 1);
  } finally {
    await agent.close();
    await s.server.shutdown();
  }
});

Deno.test("HttpAgent answers 204 and HEAD with no body and keeps the connection", async () => {
  const s = serve((req) =>
    req.method === "HEAD"
      ? new Response(null, { headers: { "content-length": "12" } })
      : new Response(null, { status: 204 })
  );
  const agent = new HttpAgent();
  try {
    const none = await agent.fetch(`${s.url}/x`, { method: "DELETE" });
    assert.equal(none.status, 204);
    assert.equal(none.body, null);
    const head = await agent.fetch(`${s.url}/x`, { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), "");
    assert.equal((await agent.fetch(`${s.url}/x`)).status, 204);
    assert.equal(s.ports.size, 1);
  } finally {
    await agent.close();
    await s.server.shutdown();
  }
});

Deno.test("HttpAgent: a refused connection is a TypeError naming the origin", async () => {
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (probe.addr as Deno.NetAddr).port;
  probe.close();
  const agent = new HttpAgent();
  await assert.rejects(agent.fetch(`http://127.0.0.1:${port}/v1/health`), (e: unknown) => {
    assert.ok(e instanceof TypeError);
    assert.match(e.message, new RegExp(`127\\.0\\.0\\.1:${port}`));
    return true;
  });
  await agent.close();
});

Deno.test("HttpAgent: an aborted call rejects with the signal's reason and frees its connection", async () => {
  const s = serve(async () => {
    await new Promise((r) => setTimeout(r, 300));
    return new Response("late");
  });
  const agent = new HttpAgent({ maxConnections: 1 });
  try {
    await assert.rejects(
      agent.fetch(s.url, { signal: AbortSignal.timeout(50) }),
      (e: unknown) => e instanceof DOMException && e.name === "TimeoutError",
    );
    const aborted = new AbortController();
    aborted.abort(new Error("stopped"));
    await assert.rejects(agent.fetch(s.url, { signal: aborted.signal }), { message: "stopped" });
    // The one connection the agent may open was closed with the aborted call: a new one serves this.
    assert.equal(await (await agent.fetch(s.url)).text(), "late");
  } finally {
    await agent.close();
    await s.server.shutdown();
  }
});

Deno.test("HttpAgent: timeoutMs fails a late answer, or a body that stalls, with a TimeoutError", async () => {
  let stall: (() => void) | undefined;
  const s = serve(async (req) => {
    if (new URL(req.url).pathname === "/late") {
      await new Promise((r) => setTimeout(r, 1000));
      return new Response("late");
    }
    if (new URL(req.url).pathname === "/stalls") {
      // Two MiB announced, one sent, then nothing until the test ends.
      const released = new Promise<void>((r) => stall = r);
      let sent = false;
      return new Response(
        new ReadableStream({
          async pull(c) {
            if (sent) {
              await released;
              return c.close();
            }
            sent = true;
            c.enqueue(new Uint8Array(1 << 20));
          },
        }),
        { headers: { "content-length": String(2 << 20) } },
      );
    }
    return new Response("soon");
  });
  const agent = new HttpAgent({ maxConnections: 1 });
  const timedOut = (e: unknown) => e instanceof DOMException && e.name === "TimeoutError";
  try {
    // The server answers after 1 s: the deadline fires first.
    await assert.rejects(agent.fetch(`${s.url}/late`, { timeoutMs: 40 }), timedOut);
    // An answer in time settles its deadline: the next call is not aborted by it.
    assert.equal(await (await agent.fetch(`${s.url}/soon`, { timeoutMs: 40 })).text(), "soon");
    await new Promise((r) => setTimeout(r, 80));
    assert.equal(await (await agent.fetch(`${s.url}/soon`)).text(), "soon");
    // The deadline covers the body: a reader of a body that stalls gets the TimeoutError.
    const res = await agent.fetch(`${s.url}/stalls`, { timeoutMs: 100 });
    assert.equal(res.status, 200);
    await assert.rejects(res.arrayBuffer(), timedOut);
    await assert.rejects(agent.fetch(s.url, { timeoutMs: -1 }), RangeError);
    // With a signal of its own too, whichever comes first ends the call, with its reason.
    const stop = new AbortController();
    const late = agent.fetch(`${s.url}/late`, { timeoutMs: 10_000, signal: stop.signal });
    stop.abort(new Error("stopped"));
    await assert.rejects(late, { message: "stopped" });
    await assert.rejects(
      agent.fetch(`${s.url}/late`, { timeoutMs: 40, signal: new AbortController().signal }),
      timedOut,
    );
  } finally {
    stall?.();
    await agent.close();
    await s.server.shutdown();
  }
});

Deno.test("HttpAgent sends a body given as pieces, small ones written together", async () => {
  const s = serve(async (req) => {
    const got = new Uint8Array(await req.arrayBuffer());
    return new Response(`${req.headers.get("content-length")} ${got.reduce((a, b) => a + b, 0)}`);
  });
  const agent = new HttpAgent();
  try {
    const pieces = [
      new Uint8Array([1, 2]),
      new Uint8Array(0),
      new Uint8Array(100_000).fill(1),
      new Uint8Array([3]),
      new Uint8Array(70_000).fill(2),
    ];
    const res = await agent.fetch(s.url, { method: "POST", pieces, body: "ignored" });
    assert.equal(await res.text(), `${3 + 170_000} ${6 + 100_000 + 140_000}`);
  } finally {
    await agent.close();
    await s.server.shutdown();
  }
});

Deno.test("HttpAgent: a connection the server closes while idle leaves the pool", async () => {
  // Answers with keep-alive framing, then closes: the next call needs a new connection.
  const s = rawServer((_h, n) => `HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\n${n}`);
  const agent = new HttpAgent();
  try {
    assert.equal(await (await agent.fetch(s.url)).text(), "0");
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(await (await agent.fetch(s.url)).text(), "1");
  } finally {
    await agent.close();
    await s.close();
  }
});

Deno.test("HttpAgent sends a GET once more when its kept connection was closed unanswered, a POST never", async () => {
  // Each connection's first request is answered, kept alive; its second is met with a close,
  // as a server that went away while the connection sat idle, unnoticed yet.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let connections = 0;
  const serving = (async () => {
    for await (const conn of listener) {
      connections++;
      (async () => {
        const buf = new Uint8Array(1 << 16);
        let requests = 0;
        let text = "";
        for (;;) {
          const n = await conn.read(buf).catch(() => null);
          if (n === null) break;
          text += new TextDecoder().decode(buf.subarray(0, n));
          if (!text.includes("\r\n\r\n")) continue;
          text = "";
          if (++requests === 2) break;
          await conn.write(
            new TextEncoder().encode("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"),
          );
        }
        conn.close();
      })();
    }
  })();
  const url = `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}/`;
  const agent = new HttpAgent();
  try {
    assert.equal(await (await agent.fetch(url)).text(), "ok");
    // The kept connection is closed on this one: sent again on a new connection.
    assert.equal(await (await agent.fetch(url)).text(), "ok");
    assert.equal(connections, 2);
    // A POST on a kept connection closed unanswered fails: the server may have acted on it.
    await assert.rejects(agent.fetch(url, { method: "POST", body: "x" }), TypeError);
    assert.equal(connections, 2);
  } finally {
    await agent.close();
    listener.close();
    await serving.catch(() => {});
  }
});

Deno.test("HttpAgent closes connections idle past idleMs", async () => {
  const s = serve(() => new Response("ok"));
  const agent = new HttpAgent({ idleMs: 40 });
  try {
    assert.equal(await (await agent.fetch(s.url)).text(), "ok");
    assert.equal(await (await agent.fetch(s.url)).text(), "ok");
    assert.equal(s.ports.size, 1);
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(await (await agent.fetch(s.url)).text(), "ok");
    assert.equal(s.ports.size, 2, "the idle connection was closed, a new one opened");
  } finally {
    await agent.close();
    await s.server.shutdown();
  }
});

Deno.test("HttpAgent reads answers framed by the connection's end, and HTTP/1.0 ones", async () => {
  const s = rawServer((_h, n) =>
    n === 0
      ? "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nto the end"
      : "HTTP/1.0 201 Created\r\ncontent-length: 2\r\n\r\nok"
  );
  const agent = new HttpAgent();
  try {
    const res = await agent.fetch(s.url);
    assert.equal(res.headers.get("content-type"), "text/plain");
    assert.equal(await res.text(), "to the end");
    const old = await agent.fetch(s.url);
    assert.equal(old.status, 201);
    assert.equal(old.statusText, "Created");
    assert.equal(await old.text(), "ok");
  } finally {
    await agent.close();
    await s.close();
  }
});

Deno.test("HttpAgent: a malformed answer is a TypeError that says what was wrong", async () => {
  const agent = new HttpAgent({ maxHeadBytes: 1024 });
  for (
    const [reply, message] of [
      ["SSH-2.0-OpenSSH\r\n\r\n", /not an HTTP\/1\.x answer: 'SSH-2\.0-OpenSSH'/],
      ["HTTP/1.1 200 OK\r\ncontent-length: x\r\n\r\n", /bad content-length in the answer: 'x'/],
      ["HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", /bad header line/],
      [`HTTP/1.1 200 OK\r\nx: ${"y".repeat(4000)}\r\n\r\n`, /head too large/],
      ["HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nshort", /closed inside an answer/],
    ] as const
  ) {
    const s = rawServer(() => reply);
    try {
      await assert.rejects(agent.fetch(s.url), (e: unknown) => {
        assert.ok(e instanceof TypeError, String(e));
        assert.match(e.message, message);
        return true;
      });
    } finally {
      await s.close();
    }
  }
  await agent.close();
});

Deno.test("HttpAgent: a long answer cut short fails its body's reader, naming the server", async () => {
  // Says 4 MiB (streamed: past wholeBytes), sends 10 bytes, closes.
  const s = rawServer(() => `HTTP/1.1 200 OK\r\ncontent-length: ${4 << 20}\r\n\r\n0123456789`);
  const agent = new HttpAgent({ wholeBytes: 1 << 20 });
  try {
    const res = await agent.fetch(s.url);
    assert.equal(res.status, 200);
    await assert.rejects(res.arrayBuffer(), (e: unknown) => {
      assert.ok(e instanceof TypeError, String(e));
      assert.match(e.message, new RegExp(`${s.url}/: the connection closed inside an answer`));
      return true;
    });
  } finally {
    await agent.close();
    await s.close();
  }
});

Deno.test("HttpAgent reads an early answer to a body the server will not take", async () => {
  // The server answers 413 at the head of an oversized body and closes.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const served = (async () => {
    const conn = await listener.accept();
    const buf = new Uint8Array(4096);
    await conn.read(buf);
    const body = '{"error":"too large"}';
    await conn.write(
      new TextEncoder().encode(
        `HTTP/1.1 413 Payload Too Large\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`,
      ),
    );
    conn.close();
  })();
  const agent = new HttpAgent();
  try {
    const res = await agent.fetch(`http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}/`, {
      method: "POST",
      body: new Uint8Array(64 << 20),
    });
    assert.equal(res.status, 413);
    assert.deepEqual(await res.json(), { error: "too large" });
  } finally {
    await agent.close();
    await served;
    listener.close();
  }
});

Deno.test("HttpAgent refuses a header with a line break", async () => {
  const agent = new HttpAgent();
  await assert.rejects(
    agent.fetch("http://127.0.0.1:1/", { headers: { "x-a": "1\r\nx-b: 2" } }),
    (e: unknown) => e instanceof TypeError && /line break/.test(e.message),
  );
  await agent.close();
});

Deno.test("HttpAgent: timeoutMs covers the connect, to a listener whose backlog is full", async () => {
  // A listener that accepts nothing: once its backlog is full, a connect hangs (its SYN dropped).
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const filled: Deno.TcpConn[] = [];
  const agent = new HttpAgent();
  try {
    for (;;) {
      const next = Deno.connect({ hostname: "127.0.0.1", port });
      const conn = await Promise.race([
        next,
        new Promise<undefined>((r) => setTimeout(() => r(undefined), 500)),
      ]);
      if (conn === undefined) {
        next.then((late) => late.close(), () => {});
        break;
      }
      filled.push(conn);
      assert.ok(filled.length <= 8192, "the backlog never filled");
    }
    await within(
      assert.rejects(
        agent.fetch(`http://127.0.0.1:${port}/`, { timeoutMs: 200 }),
        (e: unknown) => e instanceof DOMException && e.name === "TimeoutError",
      ),
      10_000,
    );
  } finally {
    await agent.close();
    for (const c of filled) c.close();
    listener.close();
  }
});

Deno.test("HttpAgent forgets an origin once it has no connection left, closed by it or refused", async () => {
  const s = serve(() => new Response("ok"));
  const agent = new HttpAgent();
  try {
    assert.equal(await (await agent.fetch(`${s.url}/`)).text(), "ok");
    // Its connection is kept idle: the origin stays.
    assert.equal(agent.origins, 1);
    await agent.close();
    assert.equal(agent.origins, 0);
    // A refused connection leaves nothing either.
    const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (probe.addr as Deno.NetAddr).port;
    probe.close();
    await assert.rejects(agent.fetch(`http://127.0.0.1:${port}/`), TypeError);
    assert.equal(agent.origins, 0);
    // Still usable: a new call opens a new connection.
    assert.equal(await (await agent.fetch(`${s.url}/`)).text(), "ok");
  } finally {
    await agent.close();
    await s.server.shutdown();
  }
});

Deno.test("HttpAgent.fetchBytes reads answers whole: by length, chunked or to the connection's end, within maxBytes", async () => {
  const big = new Uint8Array(3 << 20).map((_, i) => i % 251);
  const s = serve((req) => {
    const path = new URL(req.url).pathname;
    if (path === "/length") return new Response(big, { headers: { "x-kind": "length" } });
    if (path === "/empty") return new Response(null, { status: 204 });
    if (path === "/missing") return new Response("no", { status: 404 });
    // Chunked: a stream of three pieces without a length.
    const pieces = [big.subarray(0, 1000), big.subarray(1000, 2 << 20), big.subarray(2 << 20)];
    return new Response(
      new ReadableStream({
        pull(c) {
          const p = pieces.shift();
          if (p === undefined) c.close();
          else c.enqueue(p);
        },
      }),
    );
  });
  const raw = rawServer(() => "HTTP/1.0 200 OK\r\n\r\nuntil the end");
  const agent = new HttpAgent();
  try {
    for (const path of ["/length", "/chunked"]) {
      const a = await agent.fetchBytes(`${s.url}${path}`);
      assert.equal(a.ok, true);
      assert.equal(a.bytes.byteLength, big.byteLength);
      assert.deepEqual(a.bytes, big);
    }
    assert.equal((await agent.fetchBytes(`${s.url}/length`)).header("X-Kind"), "length");
    const empty = await agent.fetchBytes(`${s.url}/empty`);
    assert.deepEqual([empty.status, empty.bytes.byteLength], [204, 0]);
    const missing = await agent.fetchBytes(`${s.url}/missing`, { method: "POST", body: "x" });
    assert.deepEqual([missing.ok, missing.status, new TextDecoder().decode(missing.bytes)], [
      false,
      404,
      "no",
    ]);
    assert.equal(
      new TextDecoder().decode((await agent.fetchBytes(raw.url)).bytes),
      "until the end",
    );
    // Past maxBytes: refused, by its length or as the chunks come; the agent goes on.
    for (const path of ["/length", "/chunked"]) {
      await assert.rejects(
        agent.fetchBytes(`${s.url}${path}`, { maxBytes: 1 << 20 }),
        (e) => e instanceof TypeError && /at most 1048576 read/.test(e.message),
      );
    }
    assert.equal((await agent.fetchBytes(`${s.url}/length`)).bytes.byteLength, big.byteLength);
    // All of it over the pooled connections: fewer than one per call.
    assert.ok(s.ports.size < 8, `${s.ports.size} connections`);
  } finally {
    await agent.close();
    await s.server.shutdown();
    await raw.close();
  }
});
