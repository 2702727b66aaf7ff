import assert from "node:assert/strict";
import { InvalidRequestError } from "../../errors.ts";
import { joinBytes } from "../../http/join_bytes.ts";
import { frame } from "../frames.ts";
import { MAX_ENTRIES } from "../input.ts";
import { productListBody, productListOf } from "./product_list.ts";
import type { ProductRead } from "./store.ts";

const item = (n: number) => new Uint8Array(40).fill(n);

Deno.test("a product list comes back as sent: items, names, ranges and a lease's ttl", () => {
  const products: ProductRead[] = [
    { item: item(1), label: "hits", type: "f8" },
    { item: item(2), label: "hits", type: "f8", offset: 8 },
    { item: item(3), label: "tracks", type: "f8" },
    { item: item(4), label: "hits", type: "i4", offset: 0, length: 4 },
    { item: item(5), label: "hits", type: "f8", length: 2 },
    { item: item(6), label: "tracks", type: "f8" },
  ];
  const back = productListOf(joinBytes(productListBody(products, { ttlMs: 500 })));
  assert.deepEqual(
    back.products,
    products.map((p) =>
      // A range without an offset starts at 0.
      p.length !== undefined && p.offset === undefined ? { ...p, offset: 0 } : p
    ),
  );
  assert.equal(back.ttlMs, 500);
  assert.deepEqual(productListOf(joinBytes(productListBody([]))).products, []);
});

Deno.test("a product list names each label and type pair once", () => {
  const many = Array.from({ length: 300 }, (_, i) => ({
    item: item(i & 0xff),
    label: `l${i % 3}`,
    type: `t${i % 2}`,
  }));
  const body = productListBody(many);
  const back = productListOf(joinBytes(body));
  assert.deepEqual(back.products, many);
  // 6 pairs, and 300 two-byte indices.
  const header = joinBytes(body).subarray(4, 4 + new DataView(body[0]!.buffer).getUint32(0));
  assert.ok(header.byteLength < 100, `header of ${header.byteLength} bytes`);
});

Deno.test("a malformed product list is refused with what is wrong", () => {
  const list = (header: Record<string, unknown>, parts: (Uint8Array | null)[]) =>
    joinBytes(frame(header, parts));
  const refused = (body: Uint8Array, pattern: RegExp) =>
    assert.throws(
      () => productListOf(body),
      (e) => e instanceof InvalidRequestError && pattern.test(e.message),
    );
  const pairs = [["p", "t"]];
  refused(list({ pairs }, [item(1)]), /two parts/);
  refused(list({ pairs }, [item(1), null]), /two parts/);
  refused(list({ pairs }, [new Uint8Array(41), new Uint8Array(2)]), /not a multiple of 40/);
  refused(list({ pairs }, [item(1), new Uint8Array(4)]), /4 bytes of pair indices for 1/);
  refused(list({ pairs }, [item(1), new Uint8Array([0, 1])]), /names pair 1 of 1/);
  refused(list({ pairs: [["p", 3]] }, [item(1), new Uint8Array(2)]), /'pairs'/);
  refused(list({}, [item(1), new Uint8Array(2)]), /'pairs'/);
  for (
    const r of [[1, 0, null], [0, -1, null], [0, 0, 1.5], [0, 0], "x", [0, 2 ** 53, null]]
  ) {
    refused(list({ pairs, ranges: [r] }, [item(1), new Uint8Array(2)]), /range/);
  }
  refused(list({ pairs, ranges: "x" }, [item(1), new Uint8Array(2)]), /'ranges'/);
  const n = MAX_ENTRIES + 1;
  refused(
    list({ pairs }, [new Uint8Array(40 * n), new Uint8Array(2 * n)]),
    new RegExp(`${n} products, at most ${MAX_ENTRIES}`),
  );
  refused(new Uint8Array([0, 0, 0, 9]), /Invalid framed body/);
  assert.throws(
    () => productListBody([{ item: new Uint8Array(39), label: "p", type: "t" }]),
    /expected 40 bytes, found 39/,
  );
});
