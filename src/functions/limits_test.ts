import assert from "node:assert/strict";
import { checkLimits, DEFAULT_LIMITS, MAX_LIMITS } from "./limits.ts";

Deno.test("checkLimits() fills defaults and refuses unknown keys and values past the ceilings", () => {
  assert.deepEqual(checkLimits(), DEFAULT_LIMITS);
  assert.deepEqual(checkLimits(MAX_LIMITS), MAX_LIMITS);
  const bad = (v: unknown, message: string) =>
    assert.throws(() => checkLimits(v), { name: "InvalidRequestError", message });
  bad(
    { time: 1 },
    "Invalid limits: unknown key 'time', expected timeMs, memoryBytes or outputBytes",
  );
  bad({ timeMs: 0 }, "Invalid limit timeMs 0: expected an integer from 1 to 60000");
  bad(
    { outputBytes: 1.5 },
    "Invalid limit outputBytes 1.5: expected an integer from 1 to 1073741824",
  );
  bad("fast", "Invalid limits: expected an object with timeMs, memoryBytes or outputBytes");
});
