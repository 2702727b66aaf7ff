import assert from "node:assert/strict";
import { ConflictError } from "../errors.ts";
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
