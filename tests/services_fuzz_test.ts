/**
 * Malformed operations of a hosted service on a real `strata serve` (fixed
 * seeds): each HEPnOS, FlameStore and Mobject operation's valid msgpack body mutated
 * field by field (bytes cut and flipped, numbers out of range, wrong types,
 * extra keys), and framed stores and saves with broken frames. No request
 * may answer 5xx, every error is one of the project's own codes with the
 * status of its code, and the seeded product, model and object come out
 * unchanged.
 */
import assert from "node:assert/strict";
import { decode, encode } from "@msgpack/msgpack";
import { type HttpErrorCode, STATUS_OF_CODE } from "../src/api/errors.ts";
import { frame } from "../src/services/frames.ts";
import { joinBytes } from "../src/http/join_bytes.ts";
import { encodeItem, INVALID } from "../src/services/hepnos/codec.ts";
import { productListPieces } from "../src/services/hepnos/product_list.ts";
import { mulberry32, ODD_VALUES } from "./_fixtures.ts";
import { startServer } from "./_server.ts";

const SEEDS = [11, 2, 3];
const ROUNDS = 2500;
const MSGPACK = { useBigInt64: true };

/** Calls `POST /v1/services/<service>/<op>` with a msgpack (or raw) body; status, type, bytes. */
function caller(url: string, service: string) {
  return async (op: string, body: unknown, type = "application/msgpack") => {
    const res = await fetch(`${url}/v1/services/${service}/${op}`, {
      method: "POST",
      headers: { "content-type": type, accept: "application/msgpack" },
      body: (type === "application/msgpack" ? encode(body, MSGPACK) : body) as BodyInit,
    });
    return {
      status: res.status,
      type: res.headers.get("content-type") ?? "",
      bytes: new Uint8Array(await res.arrayBuffer()),
    };
  };
}

/** A mutation of a valid body: bytes cut or flipped, fields replaced by `values`, dropped or added. */
function mutator(rnd: () => number, values: readonly unknown[]) {
  const pick = <T>(a: readonly T[]) => a[Math.floor(rnd() * a.length)]!;
  const mutate = (v: unknown, depth = 0): unknown => {
    if (rnd() < 0.25 || depth > 3) return pick(values);
    if (v instanceof Uint8Array) {
      const c = v.slice();
      if (c.length > 0) c[Math.floor(rnd() * c.length)] = Math.floor(rnd() * 256);
      return rnd() < 0.5 ? c : c.slice(0, Math.floor(rnd() * c.length));
    }
    if (Array.isArray(v)) {
      const c = v.slice();
      if (c.length > 0 && rnd() < 0.7) {
        const i = Math.floor(rnd() * c.length);
        c[i] = mutate(c[i], depth + 1);
      } else c.push(pick(values));
      return c;
    }
    if (v !== null && typeof v === "object") {
      const c: Record<string, unknown> = { ...v };
      const keys = Object.keys(c);
      if (keys.length > 0 && rnd() < 0.8) {
        const k = pick(keys);
        if (rnd() < 0.2) delete c[k];
        else c[k] = mutate(c[k], depth + 1);
      } else c[pick(["extra", "limit", "from", "offset", "length"])] = pick(values);
      return c;
    }
    return pick(values);
  };
  return mutate;
}

/** No 5xx; an error is msgpack, one of the project's codes, with its code's status. */
function checkAnswer(res: { status: number; type: string; bytes: Uint8Array }, what: string) {
  assert.ok(res.status < 500, `${what}: ${res.status} ${new TextDecoder().decode(res.bytes)}`);
  if (res.status >= 400) {
    assert.equal(res.type, "application/msgpack", what);
    const e = (decode(res.bytes) as { error: { code: string; message: unknown } }).error;
    assert.ok(Object.hasOwn(STATUS_OF_CODE, e.code), `${what}: unknown code '${e.code}'`);
    assert.equal(res.status, STATUS_OF_CODE[e.code as HttpErrorCode], `${what}: ${e.message}`);
    assert.equal(typeof e.message, "string", what);
  }
}

/**
 * `rounds` requests: a valid body of a random operation, mutated (or sent
 * as it is one time in ten), or now and then a framed body with a byte
 * flipped or cut short, to the framed operation or another; each answer
 * checked.
 */
async function fuzzRounds(
  call: ReturnType<typeof caller>,
  o: {
    rnd: () => number;
    rounds: number;
    seed: number;
    valid: readonly [string, () => unknown][];
    mutate: (v: unknown) => unknown;
    framed: () => Uint8Array;
    framedOp: string;
  },
): Promise<void> {
  const { rnd } = o;
  for (let i = 0; i < o.rounds; i++) {
    const [op, body] = o.valid[Math.floor(rnd() * o.valid.length)]!;
    let res;
    let what: string;
    if (rnd() < 0.07) {
      const framed = o.framed();
      if (rnd() < 0.7) framed[Math.floor(rnd() * framed.length)] = Math.floor(rnd() * 256);
      const sent = rnd() < 0.3 ? framed.slice(0, Math.floor(rnd() * framed.length)) : framed;
      const target = rnd() < 0.5 ? o.framedOp : op;
      what = `seed ${o.seed} round ${i}: ${target} with a framed body`;
      res = await call(target, sent, "application/octet-stream");
    } else {
      const sent = rnd() < 0.1 ? body() : o.mutate(body());
      what = `seed ${o.seed} round ${i}: ${op}`;
      res = await call(op, sent);
    }
    checkAnswer(res, what);
  }
}

Deno.test("HEPnOS operations refuse mutated bodies with 4xx, never 5xx, and keep stored data", async () => {
  const server = await startServer({
    extra: "services:\n  hepnos: { targets: 4, durable: false }\n",
  });
  const call = caller(server.url, "hepnos");
  try {
    const created = await call("create_dataset", { parent: "", name: "fz" });
    const { uuid } = decode(created.bytes, MSGPACK) as { uuid: Uint8Array };
    const item = (run: number, sub?: number, ev?: number) =>
      encodeItem({
        uuid,
        run: BigInt(run),
        subrun: sub === undefined ? INVALID : BigInt(sub),
        event: ev === undefined ? INVALID : BigInt(ev),
      });
    const ev = item(1, 2, 3);
    const kept = new Uint8Array([1, 2, 3]);
    assert.equal((await call("create", { items: [item(1), item(1, 2), ev] })).status, 200);
    const put = { item: ev, label: "kept", type: "t", value: kept };
    assert.equal((await call("store", { products: [put] })).status, 200);

    for (const seed of SEEDS) {
      const rnd = mulberry32(seed);
      const n = () => Math.floor(rnd() * 5);
      // Valid bodies of every operation, to mutate.
      const valid: [string, () => unknown][] = [
        ["create_dataset", () => ({ parent: "fz", name: `d${n()}` })],
        ["dataset", () => ({ path: "fz" })],
        ["dataset_path", () => ({ uuid })],
        ["datasets", () => ({ parent: "", from: "a", exclusive: true, limit: 10 })],
        ["create", () => ({ items: [item(2), item(2, 1), item(2, 1, n())] })],
        ["exists", () => ({ items: [ev, item(9)] })],
        ["children", () => ({ parent: item(1), from: 0, exclusive: false, limit: 5 })],
        ["events", () => ({ dataset: uuid, target: 1, after: ev, limit: 10 })],
        [
          "store",
          () => ({
            products: [{ item: ev, label: `l${n()}`, type: "t", value: new Uint8Array(8) }],
          }),
        ],
        [
          "load",
          () => ({ products: [{ item: ev, label: "kept", type: "t", offset: 1, length: 1 }] }),
        ],
        ["load_bytes", () => ({ products: [{ item: ev, label: "kept", type: "t" }] })],
        [
          "lease_products",
          () => ({ products: [{ item: ev, label: "kept", type: "t", offset: 1 }], ttlMs: 1000 }),
        ],
        [
          "lease_bytes",
          () => ({ products: [{ item: ev, label: "kept", type: "t", length: 2 }], ttlMs: 1000 }),
        ],
        ["products", () => ({ item: ev, label: "kept" })],
        [
          "processor_start",
          () => ({ job: `j${n()}`, dataset: uuid, ranks: 2, inputBatchSize: 4 }),
        ],
        ["processor_next", () => ({ job: "j0", rank: 0, n: 4 })],
      ];
      const values: unknown[] = [
        ...ODD_VALUES,
        NaN,
        "a/b",
        "%",
        "n".repeat(600),
        [],
        [ev],
        {},
        new Uint8Array(0),
        new Uint8Array(16),
        new Uint8Array(40),
        new Uint8Array(41).fill(255),
        ev.slice(0, 39),
        2n ** 64n - 1n,
        -1n,
        { item: ev },
        Array(3000).fill(1),
      ];
      const mutate = mutator(rnd, values);
      await fuzzRounds(call, {
        rnd,
        rounds: ROUNDS,
        seed,
        valid,
        mutate,
        // Both forms of a framed store: products named in the header, or by a product list.
        framed: () => {
          if (rnd() < 0.5) {
            return joinBytes(
              frame({ products: [{ item: ev, label: "l", type: "t" }] }, [new Uint8Array(4)]),
            );
          }
          const list = productListPieces([{ item: ev, label: "l", type: "t" }]);
          return joinBytes(frame(list.header, [...list.parts, new Uint8Array(4)]));
        },
        framedOp: "store_bytes",
      });
    }
    // The fuzzed stores never used the seeded label: its value is as stored.
    const loaded = await call("load", { products: [{ item: ev, label: "kept", type: "t" }] });
    assert.deepEqual((decode(loaded.bytes) as { values: Uint8Array[] }).values, [kept]);
  } finally {
    await server.stop();
  }
});

Deno.test("FlameStore operations refuse mutated bodies with 4xx, never 5xx, and keep saved weights", async () => {
  const server = await startServer({
    extra: "services:\n  flamestore: { targets: 4, durable: false }\n",
  });
  const call = caller(server.url, "flamestore");
  try {
    const weightSpecs = [
      { name: "k", shape: [2, 3], dtype: "float32" },
      { name: "b", shape: [3], dtype: "int32", group: "model" },
    ];
    const kept = new Uint8Array(36).map((_, i) => i);
    const model = { topology: { layers: [1, 2] }, trainingConfig: null, weightSpecs };
    assert.equal((await call("register", { name: "kept", ...model })).status, 200);
    assert.equal((await call("save", { name: "kept", data: kept, weightSpecs })).status, 200);
    const values: unknown[] = [
      ...ODD_VALUES,
      NaN,
      "a/b",
      "\u0000",
      "n".repeat(600),
      [],
      {},
      new Uint8Array(0),
      // A length no save of the kept model takes: mutated in, it is refused.
      new Uint8Array(37),
      [{ name: "x", shape: [2 ** 40, 2 ** 40], dtype: "float32" }],
      [{ name: "x", shape: [-1], dtype: "float32" }],
      [{ name: "x", shape: [1], dtype: "string" }],
      [{ name: "x", shape: [1], dtype: "float32", quantization: { dtype: "int4" } }],
      Array(3000).fill({ name: "x", shape: [1], dtype: "bool" }),
    ];
    for (const seed of SEEDS) {
      const rnd = mulberry32(seed);
      const n = () => Math.floor(rnd() * 5);
      const valid: [string, () => unknown][] = [
        ["register", () => ({ name: `m${n()}`, ...model })],
        ["reload", () => ({ name: "kept" })],
        ["save", () => ({ name: `m${n()}`, data: new Uint8Array(36), weightSpecs })],
        ["save", () => ({ name: "kept", data: new Uint8Array(36), signature: "0".repeat(16) })],
        ["save", () => ({ name: "kept", data: new Uint8Array(35), weightSpecs })],
        ["load", () => ({ name: "kept" })],
        ["load_bytes", () => ({ name: `m${n()}` })],
        ["lease", () => ({ name: n() < 2 ? "kept" : `m${n()}`, ttlMs: n() * 1000 })],
        ["duplicate", () => ({ source: "kept", name: `m${n()}` })],
        ["delete", () => ({ name: `m${n()}` })],
        ["list", () => ({ after: "m", limit: 3 })],
        // The kit's stage route (no shm tier here: 421, or 4xx for a bad body).
        ["stages", () => ({ byteLength: n() * 1000 })],
      ];
      const mutate = mutator(rnd, values);
      await fuzzRounds(call, {
        rnd,
        rounds: ROUNDS / 2,
        seed,
        valid,
        mutate,
        framed: () => joinBytes(frame({ name: `m${n()}`, signature: "x" }, [new Uint8Array(36)])),
        framedOp: "save_bytes",
      });
    }
    // A save names its weights' signature (or specs): no mutation of a body
    // with a wrong one, or of 35 bytes, replaced the kept weights.
    const loaded = await call("load", { name: "kept" });
    assert.equal(loaded.status, 200);
    assert.deepEqual((decode(loaded.bytes) as { data: Uint8Array }).data, kept);
  } finally {
    await server.stop();
  }
});

Deno.test("Mobject operations refuse mutated bodies with 4xx, never 5xx, and keep a stored object", async () => {
  const server = await startServer({
    extra: "services:\n  mobject: { targets: 4, durable: false, options: { chunkBytes: 64 } }\n",
  });
  const call = caller(server.url, "mobject");
  try {
    const kept = new Uint8Array(200).map((_, i) => i);
    const keep = { pool: "p", object: "kept", ops: [{ op: "write_full", data: kept }] };
    assert.equal((await call("write_op", keep)).status, 200);
    const values: unknown[] = [
      ...ODD_VALUES,
      NaN,
      "n".repeat(900),
      [],
      {},
      new Uint8Array(0),
      2 ** 41,
      2 ** 39,
      [{ op: "writesame", data: new Uint8Array(3), length: 4, offset: 0 }],
      [{ op: "writesame", data: new Uint8Array(1), length: 2 ** 39, offset: 0 }],
      [{ op: "zero", offset: 0, length: 2 ** 40 }],
      [{ op: "truncate", size: 2 ** 40 }],
      [{ op: "omap_set", keys: ["k".repeat(600)], values: [new Uint8Array(1)] }],
      Array(3000).fill({ op: "stat" }),
    ];
    for (const seed of SEEDS) {
      const rnd = mulberry32(seed);
      const n = () => Math.floor(rnd() * 5);
      const target = () => ({ pool: "p", object: `o${n()}` });
      const valid: [string, () => unknown][] = [
        [
          "write_op",
          () => ({
            ...target(),
            ops: [{ op: "write", data: new Uint8Array(70), offset: n() * 50 }],
          }),
        ],
        [
          "write_op",
          () => ({
            ...target(),
            ops: [{ op: "create", exclusive: true }, { op: "truncate", size: n() * 30 }],
          }),
        ],
        [
          "write_op",
          () => ({ ...target(), ops: [{ op: "zero", offset: 10, length: 100 }, { op: "remove" }] }),
        ],
        [
          "write_op",
          () => ({
            ...target(),
            ops: [{
              op: "omap_set",
              keys: ["a", "b"],
              values: [new Uint8Array(1), new Uint8Array(2)],
            }],
          }),
        ],
        [
          "read_op",
          () => ({
            pool: "p",
            object: "kept",
            ops: [{ op: "stat" }, { op: "read", offset: 5, length: 100 }],
          }),
        ],
        [
          "read_op",
          () => ({
            ...target(),
            ops: [{ op: "omap_get_vals", startAfter: "a", prefix: "", max: 5 }],
          }),
        ],
        ["read_op", () => ({ ...target(), ops: [{ op: "omap_get_vals_by_keys", keys: ["a"] }] })],
        ["list", () => ({ pool: "p", after: "o1", limit: 3 })],
        [
          "read_op_bytes",
          () => ({ pool: "p", object: "kept", ops: [{ op: "read", offset: n(), length: 50 }] }),
        ],
      ];
      await fuzzRounds(call, {
        rnd,
        rounds: ROUNDS / 2,
        seed,
        valid,
        mutate: mutator(rnd, values),
        framed: () =>
          joinBytes(
            frame({ pool: "p", object: `o${n()}`, ops: [{ op: "write", part: 0, offset: n() }] }, [
              new Uint8Array(4),
            ]),
          ),
        framedOp: "write_op_bytes",
      });
    }
    // No write named `kept` (only reads did): it is as stored.
    const read = await call("read_op", {
      pool: "p",
      object: "kept",
      ops: [{ op: "read", offset: 0, length: 1000 }],
    });
    assert.equal(read.status, 200);
    assert.deepEqual(
      (decode(read.bytes) as { results: { data: Uint8Array }[] }).results[0]!.data,
      kept,
    );
  } finally {
    await server.stop();
  }
});
