import assert from "node:assert/strict";
import { BusyError, ClosedError, InvalidRequestError } from "../errors.ts";
import { NoticeQueue } from "./notice_queue.ts";

Deno.test("NoticeQueue.push() past the limit drops the oldest and counts it, with drop-oldest", async () => {
  const q = new NoticeQueue("field", { limit: 3 });
  for (let v = 1; v <= 10; v++) q.push(v);
  assert.equal(q.length, 3);
  assert.deepEqual(await q.next(10), { value: 8, dropped: 7 });
  assert.deepEqual(await q.next(10), { value: 9, dropped: 0 });
});

Deno.test("NoticeQueue.push() past the limit ends the queue with BusyError, with fail", async () => {
  const q = new NoticeQueue("field", { limit: 2, policy: "fail" });
  for (let v = 1; v <= 3; v++) q.push(v);
  await assert.rejects(q.next(10), (e) => {
    assert.ok(e instanceof BusyError);
    assert.equal(
      e.message,
      "Subscriber of 'field' fell 2 versions behind (policy fail): a commit did not fit in its queue",
    );
    return true;
  });
});

Deno.test("NoticeQueue.next() waits for a push, answers undefined at its deadline, and throws once closed", async () => {
  const q = new NoticeQueue("field");
  const waiting = q.next(5000);
  q.push(4);
  assert.deepEqual(await waiting, { value: 4, dropped: 0 });
  assert.equal(await q.next(5), undefined);
  const closed = q.next(5000);
  q.close();
  await assert.rejects(closed, ClosedError);
});

Deno.test("NoticeQueue refuses a limit out of 1..1024 and an unknown policy", () => {
  assert.throws(() => new NoticeQueue("f", { limit: 0 }), InvalidRequestError);
  assert.throws(() => new NoticeQueue("f", { limit: 1025 }), InvalidRequestError);
  assert.throws(() => new NoticeQueue("f", { policy: "wait" }), {
    name: "InvalidRequestError",
    message: "Invalid subscription policy: expected drop-oldest, fail or block, found 'wait'",
  });
});
