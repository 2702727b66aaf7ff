/**
 * The default way a runtime asks another node for a replica: `POST
 * /v1/replicas` on that node's HTTP API.
 *
 * @module
 */

import { errorFromBody, UnavailableError } from "../errors.ts";
import { errorBodyOf, httpRequest } from "../http/call.ts";
import type { SendReplica } from "./requests.ts";

/**
 * A `SendReplica` that posts the request to the target's HTTP API with
 * bearer `token`; an error answer is the class the target threw, with its
 * fields.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sendReplicaOverHttp } from "./replica_client.ts";
 * import { ConflictError } from "../errors.ts";
 * const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () =>
 *   Response.json({ error: { code: "conflict", message: "Not registered any more" } }, { status: 409 }));
 * const send = sendReplicaOverHttp(undefined);
 * const target = { id: "b", url: `http://127.0.0.1:${server.addr.port}`, leaseUntil: 0 };
 * const copy = { dataset: "d", version: 1, fragment: "dataset", bindings: {}, node: "a", tier: "memory", byteLength: 0, checksum: 0 };
 * await assert.rejects(send(target, { copy, tier: "memory" }), ConflictError);
 * await server.shutdown();
 * ```
 */
export function sendReplicaOverHttp(token: string | undefined): SendReplica {
  return async (target, request) => {
    const res = await httpRequest(new URL("/v1/replicas", target.url), {
      method: "POST",
      body: request,
      ...(token === undefined ? {} : { token }),
      // The target fetches the copy over the data plane, whose own deadlines
      // bound each step; this one bounds a target that stopped answering.
      timeoutMs: REPLICA_TIMEOUT_MS,
    });
    const text = await res.text().catch(() => "");
    if (!res.ok) {
      // The class the target threw, with its fields.
      throw errorFromBody(errorBodyOf(text)) ??
        new UnavailableError(`node '${target.id}' answered ${res.status}`);
    }
  };
}

/** Longest a replica request may go unanswered, ms: ten minutes, a 600 GB copy at 1 GB/s. */
const REPLICA_TIMEOUT_MS = 600_000;
