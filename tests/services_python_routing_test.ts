/**
 * The Python service clients across a name server and three runtimes:
 * their target ring matches the server's byte for byte, and requests for a
 * key go straight to the runtime of its target (HEPnOS product stores,
 * Mobject objects, FlameStore saves staged on that runtime's shm tier).
 */
import assert from "node:assert/strict";
import { hash32 } from "../src/services/hash.ts";
import { TargetRing } from "../src/services/targets.ts";
import { type Proc, startNameserver, startRuntime } from "./_cluster.ts";
import { pythonHas, runPython } from "./_python.ts";

const SERVICES = `services:
  hepnos: { targets: 6, durable: false, runtimes: [a, b, c] }
  mobject: { targets: 5, durable: false, runtimes: [a, b, c] }
  flamestore: { targets: 4, durable: false, runtimes: [a, b, c] }
`;

/** Rings of several shapes and the targets of random keys, computed here. */
function ringCases() {
  let seed = 7;
  const next = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
  return [[1, 4], [3, 1], [6, 4], [8, 16], [100, 7], [1024, 2]].map(([numTargets, vnodes]) => {
    const runtimes = ["a", "b", "c"].slice(0, 1 + (numTargets! % 3));
    const ring = new TargetRing(numTargets!, { virtualNodes: vnodes!, runtimes });
    const keys = Array.from(
      { length: 200 },
      () => new Uint8Array(next() % 41).map(() => next() & 0xff),
    );
    return {
      numTargets,
      virtualNodes: vnodes,
      runtimes,
      keys: keys.map((k) => [...k].map((b) => b.toString(16).padStart(2, "0")).join("")),
      targets: keys.map((k) => ring.targetOf(hash32(k))),
    };
  });
}

Deno.test("Python service clients send each key's requests to its target's runtime", async () => {
  if (!(await pythonHas(["numpy", "msgpack"], "the Python service routing test"))) return;
  await Deno.mkdir("tmp", { recursive: true });
  const dir = await Deno.makeTempDir({ dir: "tmp", prefix: "py-routing-" });
  const procs: Proc[] = [];
  try {
    const ns = await startNameserver();
    procs.push(ns);
    for (const node of ["a", "b", "c"]) {
      const shm = `${Deno.cwd()}/${dir}/${node}-shm`;
      await Deno.mkdir(shm);
      procs.push(
        await startRuntime(node, [ns], {
          config:
            `${SERVICES}tiers:\n  - { name: shm, kind: shm, capacity: 1GiB, path: ${shm} }\n` +
            `  - { name: file, kind: file, capacity: 4GiB }\n`,
          paths: [shm],
        }),
      );
    }
    const cases = `${dir}/rings.json`;
    await Deno.writeTextFile(cases, JSON.stringify(ringCases()));
    const ran = await runPython("services_routing.py", [
      procs.slice(1).map((p) => p.url).join(","),
      cases,
    ]);
    assert.equal(ran.code, 0, `python failed:\n${ran.stdout}\n${ran.stderr}`);
    assert.deepEqual(ran.stdout.split("\n").filter((l) => l.startsWith("ok ")), [
      "ok ring",
      "ok hepnos",
      "ok mobject",
      "ok flamestore",
      "ok fallback",
    ]);
  } finally {
    for (const p of procs.reverse()) await p.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
