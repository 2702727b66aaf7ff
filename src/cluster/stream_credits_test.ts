import assert from "node:assert/strict";
import { StreamCredit } from "./stream_credits.ts";

Deno.test("StreamCredit.ready() answers false past its timeout or on abort, true once credit comes", async () => {
  const credit = new StreamCredit(1);
  assert.equal(await credit.ready(undefined, 10), true);
  credit.sent();
  // No credit: the wait ends at its timeout (the stream sends a heartbeat then).
  assert.equal(await credit.ready(undefined, 20), false);
  const stop = new AbortController();
  const stopped = credit.ready(stop.signal);
  stop.abort();
  assert.equal(await stopped, false);
  const waiting = credit.ready(undefined, 10_000);
  credit.took(1);
  assert.equal(await waiting, true);
});
