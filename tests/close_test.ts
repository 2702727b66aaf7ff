/**
 * Every long-lived object closes the same way: an async `close()` and
 * `Symbol.asyncDispose`, so `await using` works on each.
 */
import assert from "node:assert/strict";
import { Launcher } from "../src/functions/launcher.ts";
import { PipelineService } from "../src/functions/pipelines.ts";
import { SandboxPool } from "../src/functions/pool.ts";
import { FunctionService } from "../src/functions/service.ts";
import { Registry } from "../src/registry/registry.ts";
import { Runtime } from "../src/runtime/runtime.ts";
import { WireServer } from "../src/wire/server.ts";

const CLOSING = {
  FunctionService,
  Launcher,
  PipelineService,
  Registry,
  Runtime,
  SandboxPool,
  WireServer,
};

Deno.test("long-lived objects have close() and Symbol.asyncDispose", () => {
  const missing = Object.entries(CLOSING).flatMap(([name, cls]) => {
    const proto = cls.prototype as unknown as Record<string | symbol, unknown>;
    return [
      ...(typeof proto.close === "function" ? [] : [`${name}.close`]),
      ...(typeof proto[Symbol.asyncDispose] === "function" ? [] : [`${name}[Symbol.asyncDispose]`]),
    ];
  });
  assert.deepEqual(missing, []);
});
