import assert from "node:assert/strict";
import { keyBytes } from "./kv_limits.ts";

/** A string part as KV encodes it: a tag, its UTF-8 bytes with each zero escaped, a terminator. */
function encoded(s: string): number {
  const b = new TextEncoder().encode(s);
  return 2 + b.length + b.filter((x) => x === 0).length;
}

Deno.test("keyBytes() counts a string part's UTF-8 bytes as encoding it would, any character", () => {
  const samples = ["", "abc", "a\0b", "é", "日本", "😀x", "\ud800", "\ud800a", "a\udc00", "\0\0"];
  // Random strings over the whole UTF-16 range: surrogates alone and in pairs, zeros, ASCII.
  let seed = 7;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  for (let k = 0; k < 2000; k++) {
    const n = Math.floor(next() * 8);
    samples.push(
      Array.from({ length: n }, () => String.fromCharCode(Math.floor(next() * 0x10000))).join(""),
    );
  }
  for (const s of samples) assert.equal(keyBytes([s]), encoded(s), JSON.stringify(s));
  assert.equal(keyBytes(["svc", "hepnos", 3]), encoded("svc") + encoded("hepnos") + 9);
});
