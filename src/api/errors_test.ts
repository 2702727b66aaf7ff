import assert from "node:assert/strict";
import { Hono } from "hono";
import { errorFromBody, NodeFullError } from "../errors.ts";
import { errorResponse } from "./errors.ts";

Deno.test("errorResponse() answers a full disk as 507 insufficient_storage, other system errors as 500", async () => {
  const app = new Hono()
    .get("/full", () => {
      // What Deno throws when a write finds no room (os error 28).
      throw Object.assign(new Error("No space left on device (os error 28): copy 'a' -> 'b'"), {
        code: "ENOSPC",
      });
    })
    .get("/other", () => {
      throw Object.assign(new Error("Input/output error (os error 5)"), { code: "EIO" });
    })
    .onError(errorResponse);
  const full = await app.request("/full");
  assert.equal(full.status, 507);
  const body = (await full.json()).error;
  assert.equal(body.code, "insufficient_storage");
  assert.match(body.message, /disk under this node's data is full.*free space/);
  assert.ok(errorFromBody(body) instanceof NodeFullError);
  const other = await app.request("/other");
  assert.equal(other.status, 500);
  assert.equal((await other.json()).error.code, "internal");
});
