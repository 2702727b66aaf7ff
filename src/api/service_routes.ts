/**
 * The routes of the kit's services: `GET /v1/services` lists them,
 * `GET /v1/services/<name>` describes one, and
 * `POST /v1/services/<name>/<operation>` calls an operation with a JSON or
 * msgpack body, answered the same way the request accepts; an
 * `application/octet-stream` body reaches the operation as a `RawBody`, and
 * a `RawReply` answer leaves as `application/octet-stream`, its large
 * pieces streamed as they are, its small ones joined.
 *
 * @module
 */

import type { Hono } from "hono";
import { ROUTED_HEADER, type ServiceHost } from "../services/host.ts";
import { OCTET_STREAM, readFrameHead } from "../services/frames.ts";
import { STAGE_HEADER } from "../services/service_client.ts";
import { RawBody, RawReply, type ServiceStages } from "../services/service.ts";
import { InvalidRequestError, PayloadTooLargeError } from "../errors.ts";
import { readBoundedBytes, tooLarge } from "./body.ts";
import { octetResponse } from "./octets.ts";
import { mediaType, readControlBody, reply } from "./negotiate.ts";

/** Options of the service routes. */
export interface ServiceRouteOptions {
  /** The open services. */
  readonly host: ServiceHost;
}

/**
 * A staged body: its file, of which only the frame's header is read here
 * (the operation reads the rest if it needs it, or stores the file as it
 * is: `RawBody.file`); the caller removes the file once the operation is
 * done. The stage must belong to `stages`' service, its file must hold the
 * bytes it was opened for, and the request itself must carry no body.
 */
async function takeStaged(stages: ServiceStages, id: string, req: Request): Promise<RawBody> {
  const carried = await readBoundedBytes(req, 0).then(
    (b) => b.byteLength > 0,
    (e) => {
      if (e instanceof PayloadTooLargeError) return true;
      throw e;
    },
  );
  if (carried) {
    throw new InvalidRequestError(
      `A request naming stage '${id.slice(0, 64)}' carries its body in the stage: send it empty`,
    );
  }
  const staged = await stages.take(id);
  try {
    return new RawBody(await readFrameHead(staged.path, staged.byteLength), staged);
  } catch (e) {
    await staged.remove();
    throw new InvalidRequestError(
      `Cannot read stage '${id.slice(0, 64)}': ${(e as Error).message}; send the body again`,
      { cause: e },
    );
  }
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
  // A raw body may come through a file on this node's shm tier instead of
  // the request: stage it, write it, then name the stage in the request.
  const stages = host.stages;
  app.post("/v1/services/:name/stages", async (c) => {
    const name = c.req.param("name");
    const { maxBodyBytes } = find(name);
    const body = await readControlBody(c.req.raw, 1024);
    const byteLength = (body as { byteLength?: unknown } | null)?.byteLength;
    if (!Number.isSafeInteger(byteLength) || (byteLength as number) < 0) {
      throw new InvalidRequestError(
        "Invalid stage request: expected {byteLength}, the bytes of the body to stage",
      );
    }
    if ((byteLength as number) > maxBodyBytes) tooLarge(byteLength as number, maxBodyBytes);
    const what = `a body of service '${name}'`;
    // Created holding the stage's id: a client that reads it back from the
    // path knows it is on this node (another node may have the same path),
    // then writes the body over it, as the runtime's user.
    const answer = await stages.create(
      host.tiers,
      byteLength as number,
      what,
      name,
      (id) => new TextEncoder().encode(id),
    );
    return reply(c, answer, 201);
  });
  app.delete("/v1/services/:name/stages/:stage", async (c) => {
    await stages.remove(stages.take(c.req.param("stage")));
    return c.body(null, 204);
  });
  app.post("/v1/services/:name/:operation", async (c) => {
    const name = c.req.param("name");
    const { maxBodyBytes } = find(name);
    const staged = c.req.header(STAGE_HEADER);
    const input = staged !== undefined
      ? await takeStaged(host.stagesOf(name), staged, c.req.raw)
      : mediaType(c.req.header("content-type")) === OCTET_STREAM
      ? new RawBody(await readBoundedBytes(c.req.raw, maxBodyBytes))
      : await readControlBody(c.req.raw, maxBodyBytes);
    const routed = c.req.header(ROUTED_HEADER) === "1";
    let answer: unknown;
    try {
      answer = await host.call(name, c.req.param("operation"), input, { routed });
    } finally {
      if (input instanceof RawBody) await input.file?.remove();
    }
    // With its length: the kit's clients read a service's answer whole (`sendBytesTo`).
    if (answer instanceof RawReply) return octetResponse(answer.pieces, {}, { length: true });
    return reply(c, answer ?? null);
  });
}
