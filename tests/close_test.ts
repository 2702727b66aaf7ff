/**
 * Every long-lived object closes the same way: an async `close()` and
 * `Symbol.asyncDispose`, so `await using` works on each.
 */
import assert from "node:assert/strict";
import { ClosedError } from "../src/errors.ts";
import { LeaseKeeper } from "../src/cluster/lease.ts";
import { RemoteNameService } from "../src/cluster/name_client.ts";
import { ReleaseLog } from "../src/cluster/release_log.ts";
import { ShardedCatalog } from "../src/cluster/sharded_catalog.ts";
import { Launcher } from "../src/functions/launcher.ts";
import { GroupCommitter } from "../src/registry/group_commit.ts";
import { VersionWaiters } from "../src/registry/waiters.ts";
import { WireClient } from "../src/wire/client.ts";
import { PipelineService } from "../src/functions/pipelines.ts";
import { SandboxPool } from "../src/functions/pool.ts";
import { FunctionService } from "../src/functions/service.ts";
import { Registry } from "../src/registry/registry.ts";
import { Runtime } from "../src/runtime/runtime.ts";
import { WireServer } from "../src/wire/server.ts";
import { HttpAgent } from "../src/http/agent.ts";

const CLOSING = {
  FunctionService,
  GroupCommitter,
  HttpAgent,
  LeaseKeeper,
  ReleaseLog,
  RemoteNameService,
  ShardedCatalog,
  VersionWaiters,
  WireClient,
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

Deno.test("await using closes version waiters: a wait under way fails with ClosedError", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    let waiting: Promise<unknown>;
    {
      await using waiters = new VersionWaiters(kv, (_d, _atLeast, latest) => latest);
      waiting = waiters.wait("grid", 2, { timeoutMs: 60_000 });
    }
    await assert.rejects(waiting, ClosedError);
  } finally {
    kv.close();
  }
});

Deno.test("await using stops a lease keeper: no renewal after the scope ends", async () => {
  let renewals = 0;
  {
    await using keeper = new LeaseKeeper({
      leaseMs: 30,
      register: () => Promise.resolve(),
      renew: () => Promise.resolve(void renewals++),
    });
    await keeper.start();
    await new Promise((r) => setTimeout(r, 60));
  }
  const seen = renewals;
  assert.ok(seen > 0);
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(renewals, seen);
});
