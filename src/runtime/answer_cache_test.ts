import assert from "node:assert/strict";
import { AnswerCache, type SharedAnswer } from "./answer_cache.ts";

const answer = (version: number, byteLength: number): SharedAnswer => ({
  version,
  layout: { byteLength, slots: [] },
  bytes: new Uint8Array(byteLength),
  layoutJson: "{}",
});
const key = (version: number, r0 = 0) => ({
  dataset: "t",
  createdAt: 1,
  version,
  fragment: "rows",
  bindings: { r0 },
});

Deno.test("AnswerCache.put() keeps small answers only, and drops the oldest past its bounds", () => {
  const cache = new AnswerCache({ maxAnswerBytes: 100, maxBytes: 250, maxAnswers: 3 });
  cache.put(key(1), answer(1, 101));
  assert.equal(cache.get(key(1)), undefined);
  for (let r = 0; r < 3; r++) cache.put(key(1, r), answer(1, 100));
  assert.equal(cache.size, 2);
  assert.equal(cache.get(key(1, 0)), undefined);
  assert.equal(cache.get(key(1, 2))?.version, 1);
  for (let r = 3; r < 8; r++) cache.put(key(2, r), answer(2, 10));
  assert.equal(cache.size, 3);
});

Deno.test("AnswerCache.get() tells versions, regions and incarnations of a dataset apart", () => {
  const cache = new AnswerCache();
  cache.put(key(1), answer(1, 8));
  assert.equal(cache.get(key(2)), undefined);
  assert.equal(cache.get(key(1, 4)), undefined);
  assert.equal(cache.get({ ...key(1), createdAt: 2 }), undefined);
  assert.equal(cache.get({ ...key(1), fragment: "cols" }), undefined);
  assert.equal(cache.get(key(1))?.bytes.byteLength, 8);
});

Deno.test("AnswerCache.drop() forgets every answer of a version and no other", () => {
  const cache = new AnswerCache();
  cache.put(key(1, 0), answer(1, 8));
  cache.put(key(1, 4), answer(1, 8));
  cache.put(key(2, 0), answer(2, 8));
  cache.drop("t", 1);
  assert.equal(cache.size, 1);
  assert.equal(cache.get(key(2, 0))?.version, 2);
});
