import assert from "node:assert/strict";
import { BatchGate } from "./batch_gate.ts";

const turn = () => new Promise((r) => setTimeout(r, 0));

Deno.test("BatchGate.enter() admits waiting requests in arrival order", async () => {
  const gate = new BatchGate(10);
  const first = await gate.enter(10);
  const order: number[] = [];
  const later = [4, 4, 4].map((n, i) => gate.enter(n).then((leave) => (order.push(i), leave)));
  await turn();
  assert.deepEqual(order, []);
  first();
  await turn();
  assert.deepEqual(order, [0, 1]);
  assert.equal(gate.running, 8);
  (await later[0]!)();
  await turn();
  assert.deepEqual(order, [0, 1, 2]);
});

Deno.test("BatchGate.enter() runs a request larger than the bound alone", async () => {
  const gate = new BatchGate(10);
  const small = await gate.enter(1);
  let big = false;
  const waiting = gate.enter(50).then((leave) => (big = true, leave));
  await turn();
  assert.equal(big, false);
  small();
  (await waiting)();
  assert.equal(big, true);
  assert.equal(gate.running, 0);
});

Deno.test("BatchGate.enter() does not let a small request pass one waiting", async () => {
  const gate = new BatchGate(10);
  const first = await gate.enter(8);
  let second = false;
  gate.enter(5).then((leave) => (second = true, leave()));
  let third = false;
  gate.enter(1).then((leave) => (third = true, leave()));
  await turn();
  assert.deepEqual([second, third], [false, false]);
  first();
  await turn();
  assert.deepEqual([second, third], [true, true]);
});

Deno.test("BatchGate leaving twice frees the operations once", async () => {
  const gate = new BatchGate(10);
  const leave = await gate.enter(3);
  await gate.enter(2);
  leave();
  leave();
  assert.equal(gate.running, 2);
});

Deno.test("BatchGate throws RangeError for a bound that is not a positive integer", () => {
  assert.throws(() => new BatchGate(0), RangeError);
  assert.throws(() => new BatchGate(1.5), RangeError);
});

Deno.test("BatchGate.enter(): a request whose client went away leaves the line and never runs", async () => {
  const gate = new BatchGate(100);
  const first = await gate.enter(100);
  const gone = new AbortController();
  const order: string[] = [];
  const waiting = gate.enter(60, () => gone.signal, () => new Error("client gone"));
  const next = gate.enter(60).then((leave) => {
    order.push("next");
    return leave;
  });
  gone.abort();
  await assert.rejects(waiting, /client gone/);
  first();
  (await next)();
  assert.deepEqual(order, ["next"]);
  assert.equal(gate.running, 0);
  // Aborted before it came: refused at once when it would wait, admitted when there is room.
  const busy = await gate.enter(100);
  await assert.rejects(
    gate.enter(1, () => gone.signal, () => new Error("gone already")),
    /gone already/,
  );
  busy();
  assert.equal(gate.running, 0);
  (await gate.enter(1))();
});
