/**
 * Crash safety of publish, overwrite, flush, spill and commit: a `strata
 * serve` process is killed with SIGKILL at random moments (fixed seed) while
 * a producer publishes, overwrites, commits and flushes a durable dataset
 * that allows overwrite, its memory tier small enough that copies spill;
 * after each restart it commits the versions the kill interrupted.
 * After each restart every committed version attaches byte for byte: each
 * part holds the bytes of one publish that was sent for it, never older than
 * the last one acknowledged, and never an error other than a part no
 * acknowledged publish covered.
 */
import { mulberry32 } from "./_fixtures.ts";
import assert from "node:assert/strict";
import { connect } from "../src/client/mod.ts";
import { ServerError } from "../src/client/errors.ts";
import { type Proc, spawnStrata } from "./_cluster.ts";

/** Kills and restarts. */
const ROUNDS = 24;
/** Elements of each part (float64): 256 KiB per copy, so that its writes take a while. */
const PART = 32768;
const PARTS = 3;

const DESCRIPTION = `dataset ow {
  var t [${PART * PARTS}]float64
}
fragment part(lo, hi) { var t = t[lo:hi] }`;

const TIERS = `tiers:
  - { name: memory, kind: memory, capacity: 768KiB }
  - { name: file, kind: file, capacity: 1GiB, path: file }
  - { name: backing, kind: backing, capacity: 1GiB, path: backing }
`;

/** The bytes of publish `k` of part `p` of version `v`. */
function content(v: number, p: number, k: number): Uint8Array {
  const a = new Float64Array(PART);
  for (let i = 0; i < PART; i++) a[i] = v * 1e6 + p * 1e4 + k * 100 + (i % 97);
  return new Uint8Array(a.buffer);
}

/** What the producer sent for one part of one version. */
interface Sent {
  /** Publishes sent, by index k (1..). */
  sent: number;
  /** The last publish acknowledged (0: none). */
  acked: number;
}

const params = (p: number) => ({ lo: p * PART, hi: (p + 1) * PART });

Deno.test("crash: every committed version attaches byte for byte after kill -9 during publish, overwrite, flush, spill and commit", async () => {
  const rand = mulberry32(20261124);
  await Deno.mkdir("tmp", { recursive: true });
  const dataDir = await Deno.makeTempDir({ dir: "tmp" });
  const sent = new Map<string, Sent>();
  const committed = new Set<number>();
  const touched = new Set<number>();
  let proc: Proc | undefined;
  let next = 1;
  let checks = 0;
  try {
    for (let round = 0; round <= ROUNDS; round++) {
      proc = await spawnStrata(["serve"], { dataDir, extra: TIERS });
      const client = connect(proc.url);
      if (round === 0) {
        await client.createDataset("ow", DESCRIPTION, {
          durable: true,
          overwrite: true,
          retention: 1000,
        });
      }
      // The producer commits what the kill interrupted, as a restarted one would.
      for (const v of touched) {
        if (committed.has(v)) continue;
        try {
          await client.commit("ow", v);
          committed.add(v);
        } catch (e) {
          // Nothing of it registered (404), or it committed itself after all (409).
          assert.ok(e instanceof ServerError && [404, 409].includes(e.status), String(e));
        }
      }
      // Every version that may have committed attaches as expected.
      const states = new Map(
        (await client.versions("ow")).map((r) => [r.version as number, r.state as string]),
      );
      for (const v of touched) {
        if (states.get(v) !== "committed") {
          assert.ok(!committed.has(v), `version ${v} was committed, now ${states.get(v)}`);
          continue;
        }
        for (let p = 0; p < PARTS; p++) {
          const s = sent.get(`${v}/${p}`) ?? { sent: 0, acked: 0 };
          const res: Response = await fetch(
            `${proc.url}/v1/datasets/ow/versions/${v}/fragments/part?lo=${params(p).lo}&hi=${
              params(p).hi
            }`,
          );
          checks++;
          if (res.status !== 200) {
            const body = await res.text();
            assert.ok(
              s.acked === 0 && res.status === 409 && body.includes("missing_region"),
              `round ${round}: version ${v} part ${p} (sent ${s.sent}, acked ${s.acked}): ${res.status} ${body}`,
            );
            continue;
          }
          const got: Uint8Array = new Uint8Array(await res.arrayBuffer());
          const k = Math.round((new Float64Array(got.buffer)[0]! % 1e4) / 100);
          assert.ok(
            k >= Math.max(1, s.acked) && k <= s.sent,
            `round ${round}: version ${v} part ${p} holds publish ${k}, sent ${s.sent}, acked ${s.acked}`,
          );
          assert.deepEqual(got, content(v, p, k), `version ${v} part ${p} publish ${k}`);
        }
      }
      if (round === ROUNDS) break;
      // Work until the kill: publishes, overwrites, explicit commits, flushes.
      const killAt = 30 + Math.floor(rand() * 400);
      const work = (async () => {
        for (;;) {
          const v = next++;
          touched.add(v);
          // Part 2 is left out now and then: an explicit commit covers the version.
          const parts = rand() < 0.3 ? [0, 1] : [0, 1, 2];
          for (const p of parts) {
            const overwrites = p === parts.at(-1) ? 1 : 2 + Math.floor(rand() * 3);
            for (let k = 1; k <= overwrites; k++) {
              const key = `${v}/${p}`;
              const s = sent.get(key) ?? { sent: 0, acked: 0 };
              sent.set(key, s);
              s.sent = k;
              const r = await client.publish("ow", v, "part", content(v, p, k), {
                params: params(p),
              });
              s.acked = k;
              if (r.committed) committed.add(v);
            }
          }
          if (parts.length < PARTS) {
            await client.commit("ow", v);
            committed.add(v);
          }
          await client.flush("ow", v);
        }
      })().catch(() => {}); // The kill fails the request under way.
      await new Promise((r) => setTimeout(r, killAt));
      await proc.kill();
      proc = undefined;
      await work;
    }
    assert.ok(committed.size >= ROUNDS, `only ${committed.size} versions committed`);
    console.log(
      `crash: ${ROUNDS} kills, ${
        next - 1
      } versions started, ${committed.size} committed, ${checks} attaches checked`,
    );
  } finally {
    await proc?.stop();
    await Deno.remove(dataDir, { recursive: true });
  }
});
