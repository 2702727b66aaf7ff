import assert from "node:assert/strict";
import { PublishOrder } from "./publish_order.ts";

Deno.test("a publish waits for the one it follows, then goes", async () => {
  const order = new PublishOrder();
  const seen: number[] = [];
  const third = order.turn({ session: "s", seq: 3, after: 2 }).then(() => seen.push(3));
  const second = order.turn({ session: "s", seq: 2, after: 1 }).then(() => {
    seen.push(2);
    order.handed({ session: "s", seq: 2 });
  });
  await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(seen, []);
  assert.equal(order.held, 2);
  order.handed({ session: "s", seq: 1 });
  await Promise.all([second, third]);
  assert.deepEqual(seen, [2, 3]);
  assert.equal(order.held, 0);
});

Deno.test("a publish whose predecessor was handed over already goes at once", async () => {
  const order = new PublishOrder();
  order.handed({ session: "s", seq: 7 });
  await order.turn({ session: "s", seq: 8, after: 7 });
  // The same number in another session is another publish.
  let went = false;
  const other = order.turn({ session: "t", seq: 8, after: 7 }).then(() => went = true);
  await new Promise((r) => setTimeout(r, 5));
  assert.equal(went, false);
  order.handed({ session: "t", seq: 7 });
  await other;
});

Deno.test("a publish is held at most maxWaitMs for a predecessor that never arrives", async () => {
  const order = new PublishOrder({ maxWaitMs: 20 });
  const t = performance.now();
  await order.turn({ session: "s", seq: 2, after: 1 });
  assert.ok(performance.now() - t >= 15);
  assert.equal(order.held, 0);
  // A late predecessor wakes nobody and breaks nothing.
  order.handed({ session: "s", seq: 1 });
});

Deno.test("past maxHeld publishes go without waiting, and remembered ones are bounded", async () => {
  const order = new PublishOrder({ maxHeld: 2, remember: 3, maxWaitMs: 60_000 });
  const held = [
    order.turn({ session: "s", seq: 11, after: 10 }),
    order.turn({ session: "s", seq: 12, after: 10 }),
  ];
  assert.equal(order.held, 2);
  await order.turn({ session: "s", seq: 13, after: 10 });
  order.handed({ session: "s", seq: 10 });
  await Promise.all(held);
  for (const seq of [1, 2, 3, 4]) order.handed({ session: "r", seq });
  // The oldest remembered one was forgotten: a publish after it waits (and is let go here).
  const late = order.turn({ session: "r", seq: 5, after: 1 });
  assert.equal(order.held, 1);
  order.handed({ session: "r", seq: 1 });
  await late;
  await order.turn({ session: "r", seq: 6, after: 4 });
});

Deno.test("many held publishes share one timer: each goes when handed or at its own deadline", async () => {
  const order = new PublishOrder({ maxWaitMs: 30 });
  const went: number[] = [];
  const early = Array.from(
    { length: 50 },
    (_, i) => order.turn({ session: "s", seq: 100 + i, after: i }).then(() => went.push(i)),
  );
  await new Promise((r) => setTimeout(r, 10));
  const late = order.turn({ session: "t", seq: 2, after: 1 }).then(() => went.push(-1));
  // Half are handed their predecessor at once; the rest wait out their deadline.
  for (let i = 0; i < 25; i++) order.handed({ session: "s", seq: i });
  await Promise.all(early.slice(0, 25));
  assert.equal(order.held, 26);
  await Promise.all(early);
  assert.equal(order.held, 1);
  assert.ok(!went.includes(-1), "a later hold keeps its own deadline");
  await late;
  assert.equal(order.held, 0);
});

Deno.test("held publishes let go keep no room in the deadline queue past twice maxHeld", async () => {
  const order = new PublishOrder({ maxHeld: 4, maxWaitMs: 60_000 });
  const stuck = order.turn({ session: "s", seq: 1_000_000, after: 999_999 });
  for (let i = 0; i < 100; i++) {
    const p = order.turn({ session: "s", seq: 2 * i + 1, after: 2 * i });
    order.handed({ session: "s", seq: 2 * i });
    await p;
  }
  assert.equal(order.held, 1);
  assert.ok(order.queuedDeadlines <= 8, `${order.queuedDeadlines} deadlines queued`);
  order.handed({ session: "s", seq: 999_999 });
  await stuck;
  assert.equal(order.queuedDeadlines, 0);
});
