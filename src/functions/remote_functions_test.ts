import assert from "node:assert/strict";
import { UnavailableError } from "../errors.ts";
import { silentServer, within } from "../http/_testing.ts";
import { RemoteFunctions } from "./remote_functions.ts";

Deno.test("Lookups at a name server that never answers fail by their deadline, and are asked again after", async () => {
  await using silent = silentServer();
  const functions = new RemoteFunctions({ url: silent.url, timeoutMs: 200 });
  const unavailable = (e: unknown) => {
    assert.ok(e instanceof UnavailableError);
    assert.match(e.message, /Name server .* did not answer within 200 ms/);
    return true;
  };
  // A version's lookup is shared by the invocations that ask for it: a failed one is not kept.
  await within(assert.rejects(functions.getVersion("f", 1), unavailable), 10_000);
  await within(assert.rejects(functions.getVersion("f", 1), unavailable), 10_000);
  await within(assert.rejects(functions.aliases("f"), unavailable), 10_000);
});
