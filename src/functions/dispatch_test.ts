import assert from "node:assert/strict";
import { UnavailableError } from "../errors.ts";
import { silentServer, within } from "../http/_testing.ts";
import { RunDispatcher, runTimeoutMs } from "./dispatch.ts";

const job = {
  function: { name: "h", version: 1, digest: "sha256:00" },
  source: { dataset: "p", version: 1 },
  units: [{}, {}],
};

Deno.test("A run handed to a node that never answers fails as unavailable by its deadline", async () => {
  await using silent = silentServer();
  const d = new RunDispatcher({ nodes: () => Promise.resolve([{ id: "n2", url: silent.url }]) });
  await within(
    assert.rejects(d.run("n2", job, 200), (e: unknown) => {
      assert.ok(e instanceof UnavailableError);
      assert.match(e.message, /Node 'n2' at .* did not answer within 200 ms/);
      return true;
    }),
    10_000,
  );
});

Deno.test("runTimeoutMs() gives every call its limit, one after the other, and a margin", () => {
  assert.equal(runTimeoutMs(1_000, 0), runTimeoutMs(1_000, 1));
  assert.equal(runTimeoutMs(1_000, 10) - runTimeoutMs(1_000, 1), 9_000);
});
