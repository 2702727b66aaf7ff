import assert from "node:assert/strict";
import { ConflictError } from "../errors.ts";
import { INLINE_MAX_BYTES } from "../name_service/name_service.ts";
import { wholeCopy } from "../registry/_testing.ts";
import { RemoteNameService } from "./name_client.ts";

Deno.test("RemoteNameService.publishFragment() sends publishes made meanwhile together, in order, each answered on its own", async () => {
  const requests: { path: string; versions: number[] }[] = [];
  let release = () => {};
  const gate = new Promise<void>((r) => release = r);
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const url = new URL(req.url);
    const body = await req.json();
    const records = url.pathname.endsWith("/publishes") ? body.records : [body];
    requests.push({
      path: url.pathname,
      versions: records.map((r: { version: number }) => r.version),
    });
    // The first four requests wait, so that the publishes made meanwhile queue.
    if (requests.length <= 4) await gate;
    const answer = (r: { version: number }) =>
      r.version === 13
        ? { error: { code: "conflict", message: "Version 13 of 'd' is already committed" } }
        : { committed: r.version % 2 === 0 };
    if (!url.pathname.endsWith("/publishes")) {
      const a = answer(body);
      return Response.json(a, { status: "error" in a ? 409 : 200 });
    }
    return Response.json({ results: records.map(answer) });
  });
  const names = new RemoteNameService({
    urls: [`http://127.0.0.1:${server.addr.port}`],
    node: "a",
  });
  try {
    const publish = (version: number) => names.publishFragment(wholeCopy("d", version, 8));
    const answers = Array.from({ length: 20 }, (_, i) => publish(i + 1));
    answers.forEach((a) => a.catch(() => {}));
    await new Promise((r) => setTimeout(r, 50));
    // Four requests under way, one publish each; the other 16 wait.
    assert.deepEqual(requests.map((r) => r.versions), [[1], [2], [3], [4]]);
    release();
    const settled = await Promise.allSettled(answers);
    assert.deepEqual(requests.slice(4).map((r) => r.path), ["/v1/cluster/publishes"]);
    assert.deepEqual(requests[4]!.versions, Array.from({ length: 16 }, (_, i) => i + 5));
    settled.forEach((s, i) => {
      const version = i + 1;
      if (version === 13) {
        assert.equal(s.status, "rejected");
        assert.ok((s as PromiseRejectedResult).reason instanceof ConflictError);
      } else {
        assert.deepEqual(s, { status: "fulfilled", value: { committed: version % 2 === 0 } });
      }
    });
  } finally {
    names.close();
    await server.shutdown();
  }
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
  const requests: { inline: string[] }[] = [];
  let release = () => {};
  const gate = new Promise<void>((r) => release = r);
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const url = new URL(req.url);
    const body = await req.json();
    const records = url.pathname.endsWith("/publishes") ? body.records : [body];
    requests.push({ inline: records.map((r: { inline: string }) => r.inline) });
    if (requests.length <= 4) await gate;
    if (!url.pathname.endsWith("/publishes")) return Response.json({ committed: false });
    return Response.json({ results: records.map(() => ({ committed: false })) });
  });
  const names = new RemoteNameService({
    urls: [`http://127.0.0.1:${server.addr.port}`],
    node: "a",
  });
  try {
    const size = INLINE_MAX_BYTES;
    const bytes = (v: number) => new Uint8Array(size).fill(v);
    const answers = Array.from(
      { length: 40 },
      (_, i) => names.publishFragment(wholeCopy("d", i + 1, size), { inline: bytes(i + 1) }),
    );
    // The caller's buffer may change once the call returns: its text was taken already.
    await new Promise((r) => setTimeout(r, 50));
    release();
    await Promise.all(answers);
    // Each copy's bytes went once (requests may arrive in any order).
    const sent = requests.flatMap((r) => r.inline).map((t) => Uint8Array.fromBase64(t));
    const versions = sent.map((b) => b[0]!).sort((a, b) => a - b);
    assert.deepEqual(versions, answers.map((_, i) => i + 1));
    assert.ok(sent.every((b) => b.length === size && b.every((x) => x === b[0])));
    // 16 KiB as base64 is 21,848 characters: at most 11 of them fit 256 KiB of text a request.
    assert.ok(requests.length > 7, `${requests.length} requests`);
    for (const r of requests) assert.ok(r.inline.length <= 11, `${r.inline.length} records`);
    // A copy past INLINE_MAX_BYTES goes without.
    await names.publishFragment(wholeCopy("d", 99, size + 1), { inline: new Uint8Array(size + 1) });
    assert.deepEqual(requests.at(-1)!.inline, [undefined]);
  } finally {
    names.close();
    await server.shutdown();
  }
});
