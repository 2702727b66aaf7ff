import assert from "node:assert/strict";
import { silentServer, within } from "../http/_testing.ts";
import { BusyError, ConflictError, UnavailableError } from "../errors.ts";
import { INLINE_MAX_BYTES } from "../name_service/name_service.ts";
import { wholeCopy } from "../registry/_testing.ts";
import { MAX_WAITING_PUBLISHES, RemoteNameService } from "./name_client.ts";

/** A publish record as the fake name server reads it. */
type Sent = { version: number; inline?: string };

/**
 * A fake name server that keeps the records of every publish request and
 * holds the first `publishRequests` requests (the client's, 1 by default) until `release()`, so that the publishes
 * made meanwhile queue; `answer` says how each record is answered. Runs
 * `fn` with a name client of node `a` pointed at it.
 */
async function withGatedServer(
  publishRequests: number | undefined,
  answer: (r: Sent) => { committed: boolean } | { error: { code: string; message: string } },
  fn: (
    names: RemoteNameService,
    requests: { path: string; records: Sent[] }[],
    release: () => void,
  ) => Promise<void>,
): Promise<void> {
  const requests: { path: string; records: Sent[] }[] = [];
  let release = () => {};
  const gate = new Promise<void>((r) => release = r);
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const url = new URL(req.url);
    const body = await req.json();
    const records: Sent[] = url.pathname.endsWith("/publishes") ? body.records : [body];
    requests.push({ path: url.pathname, records });
    if (requests.length <= (publishRequests ?? 1)) await gate;
    if (!url.pathname.endsWith("/publishes")) {
      const a = answer(body);
      return Response.json(a, { status: "error" in a ? 409 : 200 });
    }
    return Response.json({ results: records.map(answer) });
  });
  const names = new RemoteNameService({
    urls: [`http://127.0.0.1:${server.addr.port}`],
    node: "a",
    ...(publishRequests === undefined ? {} : { publishRequests }),
  });
  try {
    await fn(names, requests, release);
  } finally {
    release();
    names.close();
    await server.shutdown();
  }
}

Deno.test("RemoteNameService.publishFragment() sends publishes made meanwhile together, in order, each answered on its own", async () => {
  const answer = (r: Sent) =>
    r.version === 13
      ? { error: { code: "conflict", message: "Version 13 of 'd' is already committed" } }
      : { committed: r.version % 2 === 0 };
  await withGatedServer(4, answer, async (names, sent, release) => {
    const requests = () =>
      sent.map((r) => ({ path: r.path, versions: r.records.map((x) => x.version) }));
    const publish = (version: number) => names.publishFragment(wholeCopy("d", version, 8));
    const answers = Array.from({ length: 20 }, (_, i) => publish(i + 1));
    answers.forEach((a) => a.catch(() => {}));
    await new Promise((r) => setTimeout(r, 50));
    // Four requests under way, one publish each; the other 16 wait.
    assert.deepEqual(requests().map((r) => r.versions), [[1], [2], [3], [4]]);
    release();
    const settled = await Promise.allSettled(answers);
    assert.deepEqual(requests().slice(4).map((r) => r.path), ["/v1/cluster/publishes"]);
    assert.deepEqual(requests()[4]!.versions, Array.from({ length: 16 }, (_, i) => i + 5));
    settled.forEach((s, i) => {
      const version = i + 1;
      if (version === 13) {
        assert.equal(s.status, "rejected");
        assert.ok((s as PromiseRejectedResult).reason instanceof ConflictError);
      } else {
        assert.deepEqual(s, { status: "fulfilled", value: { committed: version % 2 === 0 } });
      }
    });
  });
});

Deno.test("RemoteNameService.publishFragment() has one request of a dataset under way by default", async () => {
  await withGatedServer(undefined, () => ({ committed: true }), async (names, sent, release) => {
    const answers = Array.from(
      { length: 20 },
      (_, i) => names.publishFragment(wholeCopy("d", i + 1, 8)),
    );
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(sent.map((r) => r.records.map((x) => x.version)), [[1]]);
    release();
    assert.equal((await Promise.all(answers)).length, 20);
    // The 19 made while the first was under way went together.
    assert.deepEqual(
      sent.slice(1).map((r) => r.records.map((x) => x.version)),
      [Array.from({ length: 19 }, (_, i) => i + 2)],
    );
  });
  assert.throws(
    () => new RemoteNameService({ urls: ["http://127.0.0.1:1"], node: "a", publishRequests: 0 }),
    /publishRequests/,
  );
});

Deno.test("RemoteNameService.publishFragment() of a version with copies under way never waits behind them", async () => {
  await withGatedServer(undefined, () => ({ committed: false }), async (names, sent, release) => {
    const versions = () => sent.map((r) => r.records.map((x) => x.version));
    // Version 1's first block is under way (held by the name server, as it holds a block
    // until the one closing its version comes): its second block goes at once.
    const first = names.publishFragment(wholeCopy("d", 1, 8));
    await new Promise((r) => setTimeout(r, 20));
    await names.publishFragment(wholeCopy("d", 1, 8));
    // A block of another version waits for the request under way.
    const later = names.publishFragment(wholeCopy("d", 2, 8));
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(versions(), [[1], [1]]);
    release();
    await Promise.all([first, later]);
    assert.deepEqual(versions(), [[1], [1], [2]]);
  });
});

Deno.test("RemoteNameService.publishFragment() of one dataset never waits for another dataset's publishes", async () => {
  let release = () => {};
  const gate = new Promise<void>((r) => release = r);
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const body = await req.json();
    const records = new URL(req.url).pathname.endsWith("/publishes") ? body.records : [body];
    // Dataset a's commits are held (as a subscriber with policy block holds them).
    if (records[0].dataset === "a") await gate;
    return new URL(req.url).pathname.endsWith("/publishes")
      ? Response.json({ results: records.map(() => ({ committed: true })) })
      : Response.json({ committed: true });
  });
  const names = new RemoteNameService({
    urls: [`http://127.0.0.1:${server.addr.port}`],
    node: "n",
  });
  try {
    const held = Array.from(
      { length: 6 },
      (_, i) => names.publishFragment(wholeCopy("a", i + 1, 8)),
    );
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise((r) => timer = setTimeout(() => r("still waiting after 5 s"), 5000));
    const b = await Promise.race([names.publishFragment(wholeCopy("b", 1, 8)), late]);
    clearTimeout(timer);
    release();
    assert.deepEqual(b, { committed: true });
    assert.equal((await Promise.all(held)).length, 6);
  } finally {
    names.close();
    await server.shutdown();
  }
});

Deno.test("RemoteNameService.publishFragment() sends a small copy's bytes along, batches within a bound of their text", async () => {
  await withGatedServer(4, () => ({ committed: false }), async (names, requests, release) => {
    const size = INLINE_MAX_BYTES;
    const buffers = Array.from({ length: 40 }, (_, i) => new Uint8Array(size).fill(i + 1));
    const answers = buffers.map((b, i) =>
      names.publishFragment(wholeCopy("d", i + 1, size), { inline: b })
    );
    // The caller's buffers change once the calls returned: their text was taken already.
    for (const b of buffers) b.fill(0);
    await new Promise((r) => setTimeout(r, 50));
    release();
    await Promise.all(answers);
    // Each copy's bytes went once (requests may arrive in any order).
    const inline = requests.map((r) => r.records.map((x) => x.inline!));
    const sent = inline.flat().map((t) => Uint8Array.fromBase64(t));
    const versions = sent.map((b) => b[0]!).sort((a, b) => a - b);
    assert.deepEqual(versions, buffers.map((_, i) => i + 1));
    assert.ok(sent.every((b) => b.length === size && b.every((x) => x === b[0])));
    // 16 KiB as base64 is 21,848 characters: at most 11 of them fit 256 KiB of text a request.
    assert.ok(requests.length > 7, `${requests.length} requests`);
    for (const r of inline) assert.ok(r.length <= 11, `${r.length} records`);
    // A copy past INLINE_MAX_BYTES goes without.
    await names.publishFragment(wholeCopy("d", 99, size + 1), { inline: new Uint8Array(size + 1) });
    assert.deepEqual(requests.at(-1)!.records.map((r) => r.inline), [undefined]);
  });
});

Deno.test("RemoteNameService: a name server that never answers fails each call past callTimeoutMs plus its wait", async () => {
  // Takes connections and reads requests, never answers: a process stopped without closing them.
  await using silent = silentServer();
  const url = silent.url;
  const names = new RemoteNameService({ urls: [url], node: "a", callTimeoutMs: 50 });
  const timedOut = (e: unknown) => {
    assert.ok(e instanceof UnavailableError);
    assert.match(e.message, new RegExp(`Name server ${url} did not answer within`));
    return true;
  };
  try {
    await assert.rejects(within(names.datasetSettings("x"), 10_000), timedOut);
    // A lookup that waits at the name server is given its wait on top.
    await assert.rejects(
      within(
        names.attachFragments({ dataset: "x", version: 1, fragment: "f", bindings: {} }, {
          waitMs: 20,
        }),
        10_000,
      ),
      (e: unknown) => timedOut(e) && /within 70 ms/.test((e as Error).message),
    );
    assert.throws(
      () => new RemoteNameService({ urls: [url], node: "a", callTimeoutMs: 0 }),
      /Invalid callTimeoutMs/,
    );
  } finally {
    names.close();
  }
});

Deno.test("RemoteNameService.publishFragment() refuses with busy past its bound of publishes waiting for a slow name server", async () => {
  const silent = silentServer();
  const names = new RemoteNameService({ urls: [silent.url], node: "a", callTimeoutMs: 60_000 });
  // The first request takes a batch and is never answered; the rest wait for it.
  const waiting: Promise<unknown>[] = [];
  for (let v = 1; v <= MAX_WAITING_PUBLISHES + 256; v++) {
    waiting.push(names.publishFragment(wholeCopy("d", v, 8)).catch(() => {}));
  }
  await assert.rejects(
    names.publishFragment(wholeCopy("d", MAX_WAITING_PUBLISHES + 257, 8)),
    (e: unknown) => {
      assert.ok(e instanceof BusyError);
      assert.match(e.message, /65536 publishes of 'd' already wait for the name server/);
      return true;
    },
  );
  // Another dataset's publishes are not refused.
  const other = names.publishFragment(wholeCopy("e", 1, 8)).catch((e) =>
    assert.ok(!(e instanceof BusyError), String(e))
  );
  names.close();
  await silent.close();
  await within(Promise.all([...waiting, other]), 60_000);
});
