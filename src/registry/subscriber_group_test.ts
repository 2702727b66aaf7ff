import assert from "node:assert/strict";
import { openRegistry } from "./registry.ts";
import { NoticeQueue } from "./notice_queue.ts";
import { assignPolicy, SubscriberGroup } from "./subscriber_group.ts";
import { InvalidRequestError } from "../errors.ts";
import type { Registry } from "./registry.ts";

/** Creates dataset `t` (4 float64, retention 64) in `reg`; answers a publish of a whole version of it. */
async function datasetT(
  reg: Registry,
): Promise<(version: number) => ReturnType<Registry["publishFragment"]>> {
  await reg.createDataset({
    name: "t",
    description: "dataset { var x [4]float64 }",
    retention: 64,
  });
  return (version) =>
    reg.publishFragment({
      dataset: "t",
      version,
      fragment: "dataset",
      bindings: {},
      node: "n",
      tier: "memory",
      byteLength: 32,
      checksum: 0,
    });
}

Deno.test("first-free hands a version to a member waiting for one, else to the least loaded", async () => {
  const group = new SubscriberGroup("first-free");
  const [a, b, c] = [new NoticeQueue("d"), new NoticeQueue("d"), new NoticeQueue("d")];
  for (const m of [a, b, c]) group.join(m);
  // b waits for its next version: it gets the first one.
  const waiting = b.next(5_000);
  group.assign(1);
  assert.deepEqual(await waiting, { value: 1, dropped: 0 });
  // Nobody waits: the queues fill evenly.
  for (const v of [2, 3, 4, 5, 6, 7]) group.assign(v);
  assert.deepEqual([a.length, b.length, c.length], [2, 2, 2]);
  // A member that leaves hands its versions on, in order.
  const left = [...a.drain()];
  for (const v of left) a.push(v);
  group.leave(a);
  assert.equal(group.size, 2);
  assert.deepEqual([...b.drain(), ...c.drain()].sort((x, y) => x - y), [2, 3, 4, 5, 6, 7]);
});

Deno.test("a group's policy is named, and assign without a group is refused", async () => {
  assert.equal(assignPolicy(undefined), "first-free");
  assert.throws(() => assignPolicy("random"), InvalidRequestError);
  await using reg = await openRegistry({ path: ":memory:" });
  assert.throws(
    () => reg.subscribe({ dataset: "t", fragment: "dataset", bindings: {}, assign: "round-robin" }),
    /needs a 'group'/,
  );
  const first = reg.subscribe({ dataset: "t", fragment: "dataset", bindings: {}, group: "g" });
  assert.throws(
    () =>
      reg.subscribe({
        dataset: "t",
        fragment: "dataset",
        bindings: {},
        group: "g",
        assign: "round-robin",
      }),
    /assigns by first-free, not round-robin/,
  );
  first.close();
});

Deno.test("members of a group take every committed version exactly once, a leaving one's too", async () => {
  await using reg = await openRegistry({ path: ":memory:" });
  const publish = await datasetT(reg);
  await publish(1);
  const query = { dataset: "t", fragment: "dataset", bindings: {}, group: "g", limit: 64 };
  // The first member makes the group, which takes version 1 committed before.
  const members = [reg.subscribe(query), reg.subscribe(query), reg.subscribe(query)];
  for (let v = 2; v <= 30; v++) await publish(v);
  // One member leaves before taking anything: the others get its versions.
  members[2]!.close();
  const seen: number[][] = [[], []];
  for (let r = 0; r < 2; r++) {
    for (;;) {
      const n = await members[r]!.next(20);
      if (n === undefined) break;
      assert.equal(n.dropped, 0);
      seen[r]!.push(n.version);
    }
  }
  // Each in commit order, then the versions the leaving member handed on.
  for (const s of seen) {
    const own = s.filter((v) => v % 3 !== 0);
    assert.deepEqual(own, [...own].sort((a, b) => a - b));
  }
  assert.deepEqual(
    [...seen[0]!, ...seen[1]!].sort((a, b) => a - b),
    [...Array(30).keys()].map((i) => i + 1),
  );
  assert.ok(seen[0]!.length > 0 && seen[1]!.length > 0);
  for (const m of members) m.close();
  // The group ended with its last member: a new one starts from `from` again.
  const again = reg.subscribe({ ...query, from: 30 });
  assert.equal((await again.next(1000))?.version, 30);
  again.close();
});

Deno.test("a block subscriber holds its dataset's commits while its queue is full, up to blockMs", async () => {
  await using reg = await openRegistry({ path: ":memory:" });
  const publish = await datasetT(reg);
  const sub = reg.subscribe({
    dataset: "t",
    fragment: "dataset",
    bindings: {},
    limit: 2,
    policy: "block",
    blockMs: 300,
  });
  assert.deepEqual(await publish(1), { committed: true });
  assert.deepEqual(await publish(2), { committed: true });
  let third = false;
  const publishing = publish(3).then((r) => (third = r.committed));
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(third, false, "the third commit waits for room");
  assert.equal((await sub.next(1000))?.version, 1);
  await publishing;
  assert.equal(third, true);
  // Nobody takes: past blockMs the subscription fails and the commits go on.
  const t = performance.now();
  assert.deepEqual(await publish(4), { committed: true });
  assert.ok(performance.now() - t >= 250);
  assert.equal((await sub.next(1000))?.version, 2);
  assert.equal((await sub.next(1000))?.version, 3);
  await assert.rejects(sub.next(1000), /held its dataset's commits for 300 ms/);
  sub.close();
  assert.deepEqual(await publish(5), { committed: true });
  assert.throws(
    () =>
      reg.subscribe({
        dataset: "t",
        fragment: "dataset",
        bindings: {},
        policy: "block",
        group: "g",
      }),
    /not available in a consumer group/,
  );
  assert.throws(
    () => reg.subscribe({ dataset: "t", fragment: "dataset", bindings: {}, blockMs: 0 }),
    /Invalid subscription blockMs/,
  );
});
