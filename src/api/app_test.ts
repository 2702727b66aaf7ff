import assert from "node:assert/strict";
import { createApp } from "./app.ts";

const app = createApp({ maxBodyBytes: 256 });

function post(body: string, type = "text/plain", query = "") {
  return app.request(`/v1/describe${query}`, {
    method: "POST",
    headers: { "content-type": type },
    body,
  });
}

Deno.test("POST /v1/describe returns the model and every layout", async () => {
  const res = await post(
    "dataset d { var t [4, 4]float32 }\nfragment tr { var t [i, j] = t[j, i] }",
  );
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.equal(body.description.name, "d");
  assert.equal(body.layout.byteLength, 64);
  assert.deepEqual(body.fragments.tr.slots[0].axes, [
    { dim: 1, step: 1, count: 4 },
    { dim: 0, step: 1, count: 4 },
  ]);
});

Deno.test("POST /v1/describe binds parameters from the query", async () => {
  const text = "dataset d { var t [8]int8 }\nfragment b(lo, hi) { var t = t[lo:hi] }";
  const unbound = await (await post(text)).json();
  assert.deepEqual(unbound.fragments.b, { params: ["lo", "hi"] });
  const bound = await (await post(text, "text/plain", "?lo=2&hi=5")).json();
  assert.equal(bound.fragments.b.byteLength, 3);
});

Deno.test("POST /v1/describe accepts the JSON form", async () => {
  const first = await (await post("dataset d { var x [2]float64 }")).json();
  const res = await post(JSON.stringify(first.description), "application/json");
  assert.equal(res.status, 200);
  assert.deepEqual((await res.json()).layout, first.layout);
});

Deno.test("POST /v1/describe maps each bad input to its status and code", async () => {
  const cases: [Response | Promise<Response>, number, string, string][] = [
    [post("dataset { var x flaot64 }"), 400, "invalid_description", "1:17: Unknown type 'flaot64'"],
    [post("x".repeat(300)), 413, "payload_too_large", "Request body too large: limit is 256 bytes"],
    [post("dataset {}", "text/html"), 415, "unsupported_media_type", "Unsupported content type"],
    [post("{", "application/json"), 400, "invalid_request", "Invalid application/json body"],
    [
      post("dataset { var t [8]int8 }\nfragment b(lo) { var t = t[lo:9] }", "text/plain", "?lo=1"),
      400,
      "invalid_layout",
      "Slice 1:9 is outside",
    ],
    [
      post("dataset {}", "text/plain", "?lo=x"),
      400,
      "invalid_request",
      "Query parameter 'lo' must be an integer",
    ],
    [app.request("/v1/nope"), 404, "not_found", "No route: GET /v1/nope"],
  ];
  for (const [pending, status, code, start] of cases) {
    const res = await pending;
    const body = await res.json();
    assert.equal(res.status, status, JSON.stringify(body));
    assert.equal(body.error.code, code);
    assert.ok(body.error.message.startsWith(start), body.error.message);
  }
});
