import assert from "node:assert/strict";
import { createApp } from "../src/api/app.ts";

const app = createApp({ maxBodyBytes: 1 << 20 });

function describe(body: string, type = "text/plain") {
  return app.request("/v1/describe", {
    method: "POST",
    headers: { "content-type": type },
    body,
  });
}

Deno.test("POST /v1/describe answers 400 with line and column for input nested too deeply", async () => {
  const nest = (open: string, inner: string, close: string, n: number) =>
    open.repeat(n) + inner + close.repeat(n);
  const types = Array.from({ length: 1000 }, (_, i) => `type A${i} A${i + 1}`).join("\n");
  const consts = Array.from({ length: 1000 }, (_, i) => `const C${i} = C${i + 1} * 1`).join("\n");
  const cases: [string, string][] = [
    [`dataset { var x ${nest("struct { a ", "int8", " }", 2000)} }`, "1:"],
    [`dataset { const C = ${nest("(", "1", ")", 10_000)} }`, "1:"],
    [`dataset {\n${types}\ntype A1000 int8\nvar x A0\n}`, ""],
    [`dataset {\n${consts}\nconst C1000 = 1\n}`, ""],
    [`dataset { var p [2]int8 }\nfragment f { var q ${nest("{ a ", "", "}", 2000)} = p }`, "2:"],
  ];
  for (const [body, line] of cases) {
    const res = await describe(body);
    const json = await res.json();
    assert.equal(res.status, 400, JSON.stringify(json).slice(0, 200));
    assert.equal(json.error.code, "invalid_description", JSON.stringify(json).slice(0, 200));
    assert.match(json.error.message, /^\d+:\d+: .*nested too deeply/);
    assert.ok(json.error.message.startsWith(line));
  }
});

Deno.test("POST /v1/describe answers 400 for a JSON description nested 1,000 levels", async () => {
  let e: unknown = { kind: "int", value: 1 };
  for (let i = 0; i < 1000; i++) e = { kind: "neg", operand: e };
  const body = JSON.stringify({
    consts: [{ name: "C", value: e }],
    types: [],
    vars: [],
    fragments: [],
    replicas: [],
  });
  const res = await describe(body, "application/json");
  const json = await res.json();
  assert.equal(res.status, 400);
  assert.equal(json.error.code, "invalid_description");
  assert.match(json.error.message, /^2:269: Expression is too long/);
});
