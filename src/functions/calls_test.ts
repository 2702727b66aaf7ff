import assert from "node:assert/strict";
import { LimitExceededError } from "../errors.ts";
import { callError } from "./_calls.ts";

const RECORD = {
  name: "spin",
  version: 3,
  limits: { timeMs: 100, memoryBytes: 2 ** 28, outputBytes: 1024 },
};

Deno.test("A call past its time limit says so, and when its sandbox ran niced, what to change", () => {
  const niced = callError(RECORD, { t: "timeout", ms: 100, nice: 19 });
  assert.ok(niced instanceof LimitExceededError);
  assert.match(niced.message, /ran past its limit of 100 ms/);
  assert.match(niced.message, /niceness 19.*a longer timeMs or a lower functions\.nice/);
  for (const nice of [0, undefined]) {
    const plain = callError(RECORD, {
      t: "timeout",
      ms: 100,
      ...(nice === undefined ? {} : { nice }),
    });
    assert.match(
      plain.message,
      /ran past its limit of 100 ms; its sandbox process was killed and is replaced$/,
    );
  }
});
