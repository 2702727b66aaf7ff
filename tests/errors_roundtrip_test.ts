/**
 * Every error code crosses every boundary as the same class with the same
 * fields and message: an HTTP answer read by the typed client, a control
 * call between processes, and a failure frame of the data plane.
 */
import assert from "node:assert/strict";
import { crc32 } from "node:zlib";
import { Hono } from "hono";
import { decode } from "@msgpack/msgpack";
import {
  BusyError,
  ChecksumError,
  ClosedError,
  ConflictError,
  DatasetReplacedError,
  DescriptionError,
  type ErrorCode,
  errorFromBody,
  FunctionFailedError,
  InternalError,
  InvalidConfigError,
  InvalidFunctionError,
  InvalidRequestError,
  LayoutError,
  LimitExceededError,
  LostError,
  MissingRegionError,
  NodeFullError,
  NotCommittedError,
  NotFoundError,
  NotHereError,
  PayloadTooLargeError,
  SizeMismatchError,
  type StrataError,
  TierFullError,
  UnauthorizedError,
  UnavailableError,
  UnsupportedMediaTypeError,
  WaitTimeoutError,
  WireProtocolError,
} from "../src/errors.ts";
import { errorResponse, statusOf } from "../src/api/errors.ts";
import { errorOfAnswer, ServerError } from "../src/client/errors.ts";
import { controlCall } from "../src/cluster/control_call.ts";
import { WireClient } from "../src/wire/client.ts";
import { WireServer } from "../src/wire/server.ts";
import type { FragmentLayout } from "../src/transform/layout.ts";

/** One error of each code, with data in every field its class has. */
const SAMPLES: { readonly [C in ErrorCode]: StrataError } = {
  busy: new BusyError("Too many requests in flight: 64", { fields: { limit: 64 } }),
  checksum_mismatch: new ChecksumError("particles/3/viz", 0xbeef, 0xdead),
  conflict: new ConflictError("Version 2 of 'grid' is already committed", {
    fields: { dataset: "grid", version: 2, state: "committed" },
  }),
  function_failed: new FunctionFailedError("histogram", 3, "TypeError: x is undefined"),
  gone: new LostError("particles", 7, "xyz (r0=0)", "is not on node 'a': it is gone", {
    node: "a",
  }),
  insufficient_storage: new NodeFullError("n1", {
    what: "fragment 'viz' of version 3 of 'particles'",
    byteLength: 4096,
    tiers: [{ name: "memory", capacity: 1024, used: 1000 }, {
      name: "file",
      capacity: 2048,
      used: 2048,
    }],
    detail: "the policy placed it on memory",
  }),
  internal: new InternalError("Disk full"),
  invalid_config: new InvalidConfigError("No config file: strata.yaml", {
    fields: { file: "strata.yaml" },
  }),
  invalid_description: new DescriptionError(
    "Unknown type 'flaot64'",
    { line: 2, col: 9 },
    "  var x flaot64",
  ),
  invalid_function: new InvalidFunctionError("histogram", "type-check", "TS2322 at 3:5"),
  invalid_layout: new LayoutError("Parameter 'r0' of fragment 'block' is not bound"),
  invalid_request: new InvalidRequestError("Invalid version 0: expected an integer >= 1"),
  limit_exceeded: new LimitExceededError("spin", 1, "memory", "used past 64 MiB"),
  missing_region: new MissingRegionError("temp", "x", [
    { start: [4, 0], count: [4, 2] },
    { start: [12, 0], count: [1, 2] },
  ]),
  not_committed: new NotCommittedError("particles", 4),
  not_found: new NotFoundError("Unknown dataset 'x'", { fields: { dataset: "x" } }),
  not_here: new NotHereError("This runtime cannot publish the outputs of runs"),
  payload_too_large: new PayloadTooLargeError("Request body too large", {
    fields: { limit: 1024, received: 4096 },
  }),
  size_mismatch: new SizeMismatchError("viz", 4096, 4000),
  timeout: new WaitTimeoutError("particles", 5, 100),
  unauthorized: new UnauthorizedError("Missing or wrong bearer token"),
  unavailable: new UnavailableError("Node 'a' does not answer", { fields: { node: "a" } }),
  unsupported_media_type: new UnsupportedMediaTypeError("Unsupported content type 'text/csv'"),
  wire_protocol: new WireProtocolError("Frame too large: 2 MiB"),
};

function assertSame(got: unknown, sent: StrataError, how: string): void {
  assert.ok(got instanceof Error, `${how}: ${String(got)}`);
  assert.equal(got.constructor, sent.constructor, `${how}: ${got.constructor.name}`);
  const e = got as StrataError;
  assert.equal(e.code, sent.code, how);
  assert.equal(e.message, sent.message, how);
  assert.deepEqual(e.fields, sent.fields, how);
}

/** An app that throws the sample of the code in its path. */
function throwingApp(): Hono {
  return new Hono()
    .get("/v1/:code", (c) => {
      throw SAMPLES[c.req.param("code") as ErrorCode];
    })
    .onError(errorResponse);
}

Deno.test("every error code reaches the typed client as its class, fields and status", async () => {
  const app = throwingApp();
  for (const sent of Object.values(SAMPLES)) {
    const res = await app.request(`/v1/${sent.code}`);
    assert.equal(res.status, statusOf(sent.code), sent.code);
    const got = errorOfAnswer(res.status, await res.text());
    assertSame(got, sent, `JSON ${sent.code}`);
    assert.ok(got instanceof ServerError, sent.code);
    assert.equal(got.status, res.status);
    // The same body in msgpack.
    const packed = await app.request(`/v1/${sent.code}`, {
      headers: { accept: "application/msgpack" },
    });
    const body = decode(new Uint8Array(await packed.arrayBuffer())) as { error: unknown };
    assertSame(errorFromBody(body.error), sent, `msgpack ${sent.code}`);
  }
});

Deno.test("every error code crosses a control call as its class and fields", async () => {
  const app = throwingApp();
  await using server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    app.fetch,
  );
  const base = `http://127.0.0.1:${server.addr.port}`;
  for (const sent of Object.values(SAMPLES)) {
    const got = await controlCall(base, "GET", `/v1/${sent.code}`).then(
      () => assert.fail(`${sent.code} answered`),
      (e) => e,
    );
    assertSame(got, sent, `control call ${sent.code}`);
  }
});

Deno.test("every error code crosses the data plane as its class and fields", async () => {
  const layout: FragmentLayout = {
    byteLength: 4,
    slots: [{
      name: "b",
      variable: "b",
      origin: [0],
      axes: [{ dim: 0, step: 1, count: 4 }],
      fields: [{ path: "", type: "uint8", count: 1, offset: 0, strides: [1] }],
    }],
  };
  const server = WireServer.listen({
    port: 0,
    node: "a",
    source: { produce: (copy) => Promise.reject(SAMPLES[copy.dataset as ErrorCode]) },
  });
  try {
    using client = new WireClient({ node: "b" });
    const peer = { node: "a", hostname: "127.0.0.1", port: server.port };
    for (const sent of Object.values(SAMPLES)) {
      const copy = {
        dataset: sent.code,
        version: 1,
        fragment: "dataset",
        bindings: {},
        layout,
        byteLength: 4,
        checksum: crc32(new Uint8Array(4)),
      };
      const got = await client.fetch(peer, copy, layout).then(
        () => assert.fail(`${sent.code} answered`),
        (e) => e,
      );
      assertSame(got, sent, `data plane ${sent.code}`);
    }
  } finally {
    await server.close();
  }
});

Deno.test("errorFromBody() reads a body without fields, and an unknown code as internal", () => {
  const plain = errorFromBody({ code: "not_found", message: "Unknown dataset 'x'" });
  assert.ok(plain instanceof NotFoundError);
  assert.deepEqual(plain.fields, {});
  const unknown = errorFromBody({ code: "teapot", message: "Short and stout" });
  assert.ok(unknown instanceof InternalError);
  assert.equal(unknown.fields.code, "teapot");
  assert.equal(unknown.message, "Short and stout");
  assert.equal(errorFromBody({ message: "no code" }), undefined);
});

Deno.test("a narrower error arrives as the class of its code, with its fields", async () => {
  const app = new Hono()
    .get("/replaced", () => {
      throw new DatasetReplacedError("grid", 1000, 2000);
    })
    .get("/closed", () => {
      throw new ClosedError("registry");
    })
    .get("/tier", () => {
      throw new TierFullError("memory", { capacity: 100, used: 90, requested: 20 });
    })
    .onError(errorResponse);
  const cases = [
    ["/replaced", ConflictError, new DatasetReplacedError("grid", 1000, 2000)],
    ["/closed", UnavailableError, new ClosedError("registry")],
    [
      "/tier",
      NodeFullError,
      new TierFullError("memory", { capacity: 100, used: 90, requested: 20 }),
    ],
  ] as const;
  for (const [path, cls, sent] of cases) {
    const res = await app.request(path);
    const got = errorOfAnswer(res.status, await res.text());
    assert.equal(got.constructor, cls, path);
    assert.equal(got.message, sent.message, path);
    assert.deepEqual(got.fields, sent.fields, path);
  }
});
