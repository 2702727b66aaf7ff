/**
 * Mobject on a real `strata serve` and on a name server with three
 * runtimes: librados-shaped op lists over HTTP, RADOS errnos in the errors,
 * an IOR-like workload (file per process and one shared object, transfers
 * written at offsets then read back and checked), and objects routed to
 * their target's runtime.
 */
import assert from "node:assert/strict";
import { ConflictError, InvalidRequestError, NotFoundError } from "../src/errors.ts";
import { ERRNO, Mobject, ReadOpList, WriteOpList } from "../src/services/mobject/mod.ts";
import { startCluster } from "./_cluster.ts";
import { startServer } from "./_server.ts";
import { pythonHas, runPython } from "./_python.ts";

const te = new TextEncoder();

/** Transfer `i` of a writer `w`: `size` bytes derived from both. */
function transfer(w: number, i: number, size: number): Uint8Array {
  return new Uint8Array(size).map((_, k) => (w * 31 + i * 7 + k) & 0xff);
}

Deno.test("Mobject on strata serve: librados op lists, errnos, and an IOR-like workload", async (t) => {
  const server = await startServer({
    extra: "services:\n  mobject: { targets: 4, options: { chunkBytes: 65536 } }\n",
  });
  try {
    const io = (await Mobject.connect(server.url)).ioctx("data");

    await t.step("write op lists apply all or nothing; errors carry RADOS's errno", async () => {
      const s = await io.operate(
        "obj",
        new WriteOpList().create(true).writeFull(te.encode("hello")).omapSet({ a: te.encode("1") }),
      );
      assert.equal(s?.size, 5);
      await assert.rejects(
        io.operate("obj", new WriteOpList().append(te.encode("!!")).create(true)),
        (e) => e instanceof ConflictError && e.fields.errno === ERRNO.EEXIST && e.fields.op === 1,
      );
      assert.equal(new TextDecoder().decode(await io.readBytes("obj", 100)), "hello");
      await assert.rejects(
        io.stat("missing"),
        (e) => e instanceof NotFoundError && e.fields.errno === ERRNO.ENOENT,
      );
      await assert.rejects(
        io.operate("obj", new WriteOpList().writeSame(te.encode("abc"), 4, 0)),
        (e) => e instanceof InvalidRequestError && e.fields.errno === ERRNO.EINVAL,
      );
      const [stat, read, vals] = await io.read(
        "obj",
        new ReadOpList().stat().read(1, 3).omapGetVals(),
      );
      assert.equal((stat as { size: number; version: number }).version, 1);
      assert.equal(new TextDecoder().decode((read as { data: Uint8Array }).data), "ell");
      assert.deepEqual((vals as { keys: string[] }).keys, ["a"]);
    });

    await t.step("IOR-like: 4 writers, file per process and one shared object", async () => {
      const size = 100_000; // transfers across 64 KiB chunks
      const count = 6;
      await Promise.all([0, 1, 2, 3].map(async (w) => {
        for (let i = 0; i < count; i++) {
          await io.write(`fpp-${w}`, transfer(w, i, size), i * size);
          // Segmented shared file: writer w's i-th transfer at (i * 4 + w).
          await io.write("shared", transfer(w, i, size), (i * 4 + w) * size);
        }
      }));
      for (let w = 0; w < 4; w++) {
        assert.equal((await io.stat(`fpp-${w}`)).size, count * size);
        for (let i = 0; i < count; i++) {
          assert.deepEqual(await io.readBytes(`fpp-${w}`, size, i * size), transfer(w, i, size));
          assert.deepEqual(
            await io.readBytes("shared", size, (i * 4 + w) * size),
            transfer(w, i, size),
          );
        }
      }
      assert.equal((await io.stat("shared")).size, 4 * count * size);
      for (let w = 0; w < 4; w++) await io.remove(`fpp-${w}`);
      assert.deepEqual(await io.list(), ["obj", "shared"]);
      // Pools are namespaces.
      assert.deepEqual(await (await Mobject.connect(server.url)).ioctx("other").list(), []);
    });
  } finally {
    await server.stop();
  }
});

Deno.test("Mobject on a name server and three runtimes: every object from any runtime", async () => {
  const cluster = await startCluster(["a", "b", "c"], {
    leaseMs: 3000,
    config: "services:\n  mobject: { targets: 6, durable: false, runtimes: [a, b, c] }\n",
  });
  try {
    const [a, b, c] = await Promise.all(
      cluster.runtimes.map(async (p) => (await Mobject.connect(p.url)).ioctx("p")),
    );
    const names = [...Array(12).keys()].map((i) => `o${i}`);
    for (const [i, n] of names.entries()) {
      await a!.operate(
        n,
        new WriteOpList().writeFull(transfer(i, 0, 150_000)).omapSet({ i: te.encode(n) }),
      );
    }
    for (const io of [a!, b!, c!]) {
      for (const [i, n] of names.entries()) {
        assert.deepEqual(await io.readBytes(n, 200_000), transfer(i, 0, 150_000));
      }
    }
    await b!.operate("o3", new WriteOpList().truncate(10).append(te.encode("x")));
    assert.equal((await c!.stat("o3")).size, 11);
    assert.deepEqual((await a!.list()).length, 12);
  } finally {
    await cluster.stop();
  }
});

Deno.test("Python Mobject client: op lists, errnos, omap, objects shared with TypeScript", async () => {
  if (!(await pythonHas(["msgpack"], "the Python Mobject client test"))) return;
  const server = await startServer({ extra: "services:\n  mobject: { targets: 2 }\n" });
  try {
    const io = (await Mobject.connect(server.url)).ioctx("p");
    await io.writeFull("from-ts", new Uint8Array(100).map((_, i) => i));
    const ran = await runPython("mobject_client.py", [server.url]);
    assert.equal(ran.code, 0, `python failed:\n${ran.stdout}\n${ran.stderr}`);
    assert.deepEqual(ran.stdout.split("\n").filter((l) => l.startsWith("ok ")), [
      "ok op-lists",
      "ok errnos",
      "ok bytes-omap",
      "ok interop",
    ]);
    assert.deepEqual(await io.readBytes("from-py", 100), new Uint8Array(50).map((_, i) => i));
  } finally {
    await server.stop();
  }
});
