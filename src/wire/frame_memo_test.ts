import assert from "node:assert/strict";
import { WireProtocolError } from "../errors.ts";
import type { FragmentLayout } from "../transform/layout.ts";
import { Random } from "../transform/_testing.ts";
import { decodeFrame, encodeFrame, type FetchFrame, type HeaderFrame } from "./codec.ts";
import { FrameMemo } from "./frame_memo.ts";

function layout(n: number, fields: string[], columnar: boolean): FragmentLayout {
  return {
    byteLength: n * 8 * fields.length,
    slots: [{
      name: "p",
      variable: "p",
      origin: [0],
      axes: [{ dim: 0, step: 1, count: n }],
      fields: fields.map((path, i) => ({
        path,
        type: "float64" as const,
        count: 1,
        offset: columnar ? i * 8 * n : i * 8,
        strides: [columnar ? 8 : 8 * fields.length],
      })),
    }],
  };
}

function fetchFrame(r: Random, shape: number): FetchFrame {
  const n = 1000 + shape;
  const copy = layout(n, ["x", "y", "z", "energy"], false);
  return {
    kind: "fetch",
    id: r.pick([0, 1, 0xffffffff, r.int(0, 0xffffffff)]),
    copy: {
      dataset: `field${shape % 3}`,
      version: r.pick([0, 1, Number.MAX_SAFE_INTEGER, r.int(1, 1e12)]),
      fragment: "dataset",
      bindings: shape % 2 === 0 ? {} : { lo: shape, hi: 2 * shape },
      layout: copy,
      byteLength: r.pick([0, copy.byteLength, Number.MAX_SAFE_INTEGER]),
      checksum: r.pick([0, 0xffffffff, r.int(0, 0xffffffff)]),
    },
    want: layout(n, shape % 4 < 2 ? ["x", "y"] : ["energy"], true),
  };
}

function headerFrame(r: Random, shape: number): HeaderFrame {
  const f = fetchFrame(r, shape);
  return {
    kind: "header",
    id: f.id,
    dataset: f.copy.dataset,
    version: f.copy.version,
    fragment: f.copy.fragment,
    bindings: f.copy.bindings,
    layout: f.want,
    byteLength: r.pick([0, f.want.byteLength, Number.MAX_SAFE_INTEGER]),
    checksum: f.copy.checksum,
  };
}

Deno.test("FrameMemo encodes and decodes exactly as the codec, shapes repeating or not", () => {
  const r = new Random(7);
  const memo = new FrameMemo({ size: 4 });
  for (let i = 0; i < 400; i++) {
    // Mostly a few shapes again and again, sometimes one of many others.
    const shape = r.chance(0.8) ? r.int(0, 3) : r.int(4, 40);
    const frame = r.chance(0.5) ? fetchFrame(r, shape) : headerFrame(r, shape);
    const bytes = memo.encode(frame);
    assert.deepEqual(bytes, encodeFrame(frame), `encode ${i}`);
    assert.deepEqual(memo.decode(bytes), frame, `decode ${i}`);
    assert.deepEqual(memo.decode(bytes), decodeFrame(bytes), `decode again ${i}`);
  }
  const hello = { kind: "hello", protocol: 1, node: "a", token: "" } as const;
  assert.deepEqual(memo.decode(memo.encode(hello)), hello);
});

Deno.test("FrameMemo.decode() refuses numbers past a safe integer, as the codec does", () => {
  const r = new Random(11);
  const memo = new FrameMemo();
  const frame = headerFrame(r, 0);
  for (let i = 0; i < 3; i++) memo.decode(memo.encode({ ...frame, id: i }));
  const bytes = memo.encode(frame);
  // The version, as a uint64, made 2^53 + 1: same shape, number out of range.
  const big = encodeFrame({ ...frame, version: 0x0102030405 });
  const at = [...big.keys()].find((k) =>
    new DataView(big.buffer).getBigUint64(k, true) === 0x0102030405n
  )!;
  const bad = bytes.slice();
  new DataView(bad.buffer).setBigUint64(at, 2n ** 53n + 1n, true);
  assert.throws(() => decodeFrame(bad), WireProtocolError);
  assert.throws(() => memo.decode(bad), WireProtocolError);
});

Deno.test("FrameMemo.decode() reads a frame whose other bytes changed in full", () => {
  const r = new Random(5);
  const memo = new FrameMemo();
  const a = fetchFrame(r, 0);
  for (let i = 0; i < 3; i++) memo.decode(memo.encode({ ...a, id: i }));
  // Same length, another dataset name: not the template's shape.
  const b = { ...a, copy: { ...a.copy, dataset: "field9" } };
  const bytes = encodeFrame(b);
  assert.equal(bytes.length, encodeFrame(a).length);
  assert.deepEqual(memo.decode(bytes), b);
});
