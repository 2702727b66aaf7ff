import assert from "node:assert/strict";
import { Hono } from "hono";
import { log } from "../observe/mod.ts";
import { observeRequests } from "./observe_routes.ts";

Deno.test("A request line names the route, status, and the dataset and version the route names", async () => {
  const lines: Record<string, unknown>[] = [];
  log.configure({ level: "info", format: "json", write: (l) => lines.push(JSON.parse(l)) });
  try {
    const app = new Hono()
      .use(observeRequests())
      .get("/v1/datasets/:name/versions/:version", (c) => c.text("ok"))
      .get("/v1/functions/:name/versions/:version", (c) => c.text("ok"))
      .post("/v1/batch", (c) => c.json({ results: [] }));
    await app.request("/v1/datasets/particles/versions/7");
    await app.request("/v1/functions/histogram/versions/2");
    await app.request("/v1/batch", { method: "POST", body: "{}" });
    await app.request("/nowhere");
    const [dataset, fn, batch, missing] = lines;
    assert.equal(lines.length, 4);
    assert.deepEqual(
      [dataset!.route, dataset!.status, dataset!.dataset, dataset!.version],
      ["/v1/datasets/:name/versions/:version", 200, "particles", "7"],
    );
    // A function's name is not a dataset's; its version is said.
    assert.deepEqual([fn!.dataset, fn!.version], [undefined, "2"]);
    assert.deepEqual([batch!.route, batch!.dataset, batch!.version], [
      "/v1/batch",
      undefined,
      undefined,
    ]);
    assert.deepEqual([missing!.route, missing!.status], ["unmatched", 404]);
    for (const l of lines) assert.match(String(l.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  } finally {
    log.configure({ level: "warn" });
  }
});
