import assert from "node:assert/strict";
import { mulberry32 } from "../../tests/_fixtures.ts";
import { decodeFrame, encodeFrame, type Frame, PROTOCOL } from "./codec.ts";
import { WireProtocolError } from "../errors.ts";
import type { FragmentLayout } from "../transform/layout.ts";

const LAYOUT: FragmentLayout = {
  byteLength: 96,
  slots: [{
    name: "p",
    variable: "p",
    origin: [4, 0],
    axes: [{ dim: 0, step: 2, count: 3 }, { dim: 1, step: 1, count: 2 }],
    fields: [
      { path: "x", type: "float64", count: 1, offset: 0, strides: [32, 16] },
      { path: "name", type: { kind: "string", size: 10 }, count: 1, offset: 8, strides: [32, 16] },
      { path: "v", type: "int16", count: 3, offset: 48, strides: [12, 6] },
    ],
  }],
};

const HEADER: Frame = {
  kind: "header",
  id: 7,
  dataset: "d",
  version: 3,
  fragment: "dataset",
  bindings: {},
  layout: LAYOUT,
  byteLength: 96,
  checksum: 1,
};

Deno.test("encodeFrame() and decodeFrame() round-trip every frame kind", () => {
  const frames: Frame[] = [
    { kind: "hello", protocol: PROTOCOL, node: "node-a", token: "secret" },
    {
      kind: "fetch",
      id: 42,
      copy: {
        dataset: "particles",
        version: 9007199254740991,
        fragment: "block",
        bindings: { c0: 0, r0: -4 },
        layout: LAYOUT,
        byteLength: 96,
        checksum: 0xdeadbeef,
      },
      want: { byteLength: 0, slots: [] },
    },
    HEADER,
    { kind: "failure", id: 0, code: "gone", message: "Version 3 of 'd' is lost" },
  ];
  for (const f of frames) assert.deepEqual(decodeFrame(encodeFrame(f)), f);
});

Deno.test("decodeFrame() throws WireProtocolError when the bytes are not a frame", () => {
  assert.throws(() => decodeFrame(new Uint8Array([0, 0, 0, 0, 9, 0, 0, 0])), WireProtocolError);
  assert.throws(() => decodeFrame(new Uint8Array(3)), WireProtocolError);
});

Deno.test("decodeFrame() rejects an unknown scalar type naming it", () => {
  const bad = {
    ...LAYOUT,
    slots: [{
      ...LAYOUT.slots[0]!,
      fields: [{ ...LAYOUT.slots[0]!.fields[0]!, type: "float128" }],
    }],
  } as unknown as FragmentLayout;
  const bytes = encodeFrame({
    kind: "header",
    id: 1,
    dataset: "d",
    version: 1,
    fragment: "f",
    bindings: {},
    layout: bad,
    byteLength: 0,
    checksum: 0,
  });
  assert.throws(
    () => decodeFrame(bytes),
    (e) => e instanceof WireProtocolError && e.message.includes("Unknown scalar type 'float128'"),
  );
});

const FETCH: Frame = {
  kind: "fetch",
  id: 42,
  copy: {
    dataset: "particles",
    version: 9,
    fragment: "block",
    bindings: { c0: 0, r0: -4 },
    layout: LAYOUT,
    byteLength: 96,
    checksum: 0xdeadbeef,
  },
  want: LAYOUT,
};

Deno.test("decodeFrame() refuses a segment table past the frame's bytes before reading it", () => {
  // Eight bytes claiming 1,174,405,121 segments: Cap'n Proto's reader took minutes and gigabytes.
  assert.throws(
    () => decodeFrame(new Uint8Array([0, 0, 0, 0x46, 9, 0, 0, 0])),
    (e) =>
      e instanceof WireProtocolError &&
      e.message ===
        "Invalid frame: its segment table names 1174405121 segments, at most 64 in 8 bytes",
  );
  const cut = encodeFrame(FETCH).slice(0, 200);
  assert.throws(() => decodeFrame(cut), /Invalid frame: its segments take \d+ bytes, 192 follow/);
});

Deno.test("decodeFrame() refuses a list longer than the frame could hold, before reading it", () => {
  // One byte of a list pointer: a fields' strides list of 429,916,162 entries
  // in a 944-byte frame (its entries decoded as zero-size structs took 9 s).
  const bytes = encodeFrame(FETCH);
  bytes[391] = 205;
  assert.throws(
    () => decodeFrame(bytes),
    (e) =>
      e instanceof WireProtocolError &&
      e.message === "Invalid frame: it lists 429916162 strides, more than its bytes can hold",
  );
});

Deno.test("decodeFrame() answers mutated frames with a frame or WireProtocolError, never anything else", () => {
  const encoded = [
    encodeFrame({ kind: "hello", protocol: PROTOCOL, node: "node-a", token: "secret" }),
    encodeFrame(FETCH),
    encodeFrame(HEADER),
    encodeFrame({ kind: "failure", id: 0, code: "gone", message: "lost", fields: { a: 1 } }),
  ];
  const rnd = mulberry32(3);
  for (let i = 0; i < 20_000; i++) {
    const bytes = encoded[i % encoded.length]!.slice();
    for (let k = 1 + Math.floor(rnd() * 3); k > 0; k--) {
      bytes[Math.floor(rnd() * bytes.length)] = Math.floor(rnd() * 256);
    }
    const sent = rnd() < 0.1 ? bytes.slice(0, Math.floor(rnd() * bytes.length)) : bytes;
    try {
      decodeFrame(sent);
    } catch (e) {
      assert.ok(e instanceof WireProtocolError, `round ${i}: ${e}`);
    }
  }
});
