/**
 * The routes of the kit's services: `GET /v1/services` lists them,
 * `GET /v1/services/<name>` describes one, and
 * `POST /v1/services/<name>/<operation>` calls an operation with a JSON or
 * msgpack body, answered the same way the request accepts; an
 * `application/octet-stream` body reaches the operation as a `RawBody`, and
 * a `RawReply` answer leaves as `application/octet-stream`, its pieces
 * streamed as they are.
 *
 * @module
 */

import type { Hono } from "hono";
import { ROUTED_HEADER, type ServiceHost } from "../services/host.ts";
import { OCTET_STREAM } from "../services/frames.ts";
import { RawBody, RawReply } from "../services/service.ts";
import { readBoundedBytes } from "./body.ts";
import { mediaType, readControlBody, reply } from "./negotiate.ts";

/** Options of the service routes. */
export interface ServiceRouteOptions {
  /** The open services. */
  readonly host: ServiceHost;
}

/**
 * Mounts the service routes on `app`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Hono } from "hono";
 * import { KIND_DEFAULTS, MemoryTier, TierSet } from "../tiers/mod.ts";
 * import { defineService, ServiceHost } from "../services/mod.ts";
 * import { mountServiceRoutes } from "./service_routes.ts";
 * const spec = { name: "mem", kind: "memory", capacity: 1 << 20, ...KIND_DEFAULTS.memory } as const;
 * const tiers = new TierSet({ node: "n", tiers: [{ tier: new MemoryTier("mem", 1 << 20), spec }] });
 * const kv = await Deno.openKv(":memory:");
 * const echo = defineService({ name: "echo", options: [], open: (ctx) => Promise.resolve({
 *   name: ctx.name, operations: { echo: (x) => Promise.resolve(x) }, info: () => ({}), close: () => Promise.resolve(),
 * }) });
 * const config = { echo: { enabled: true, targets: 1, virtualNodes: 4, durable: false, maxBodyBytes: 1024, options: {}, runtimes: [] } };
 * const host = await ServiceHost.open({ kv, tiers, config, definitions: [echo] });
 * const app = new Hono();
 * mountServiceRoutes(app, { host });
 * const res = await app.request("/v1/services/echo/echo", {
 *   method: "POST", headers: { "content-type": "application/json" }, body: '{"a":1}',
 * });
 * assert.deepEqual(await res.json(), { a: 1 });
 * await host.close();
 * kv.close();
 * ```
 */
export function mountServiceRoutes(app: Hono, options: ServiceRouteOptions): void {
  const { host } = options;
  const find = (name: string) => host.service(name);
  app.get("/v1/services", (c) => reply(c, { services: [...host.services.keys()] }));
  app.get("/v1/services/:name", async (c) => {
    const { service } = find(c.req.param("name"));
    return reply(c, {
      name: service.name,
      operations: Object.keys(service.operations),
      ...service.info() as object,
      placement: await host.placement(service.name),
    });
  });
  app.post("/v1/services/:name/:operation", async (c) => {
    const name = c.req.param("name");
    const { maxBodyBytes } = find(name);
    const input = mediaType(c.req.header("content-type")) === OCTET_STREAM
      ? new RawBody(await readBoundedBytes(c.req.raw, maxBodyBytes))
      : await readControlBody(c.req.raw, maxBodyBytes);
    const routed = c.req.header(ROUTED_HEADER) === "1";
    const answer = await host.call(name, c.req.param("operation"), input, { routed });
    if (answer instanceof RawReply) return rawResponse(answer);
    return reply(c, answer ?? null);
  });
}

/**
 * An octet-stream answer: one piece as the body itself, several streamed
 * one after the other without joining them (a blob's bytes are sent from
 * the tier's buffer; bench/services_bench.ts guards this path).
 */
function rawResponse(answer: RawReply): Response {
  if (answer.pieces.length === 1) {
    return new Response(answer.pieces[0], {
      headers: { "content-type": OCTET_STREAM, "content-length": String(answer.byteLength) },
    });
  }
  const headers = { "content-type": OCTET_STREAM };
  const pieces = answer.pieces;
  let at = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      const p = pieces[at++];
      if (p === undefined) controller.close();
      else controller.enqueue(p);
    },
  });
  return new Response(body, { headers });
}
