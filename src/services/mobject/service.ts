/**
 * Mobject as a service of the kit: a RADOS-like object store, served as
 * `POST /v1/services/mobject/<operation>`. See docs/services.md.
 *
 * @module
 */

import { InvalidConfigError } from "../../errors.ts";
import { frame, unframe } from "../frames.ts";
import { int, MAX_ENTRIES, record, str } from "../input.ts";
import { defineService, rawBodyOf, RawReply, type ServiceDefinition } from "../service.ts";
import { framedWriteOps, objectOf, readOps, writeOps } from "./ops.ts";
import { DEFAULT_CHUNK_BYTES, ObjectStore } from "./store.ts";
import { log } from "../../observe/mod.ts";

/** The header and parts of a framed request body. */
async function framed(input: unknown) {
  return unframe(await rawBodyOf(input, "write_op_bytes").read());
}

/**
 * The Mobject service. Operations: `write_op {pool, object, ops}` (a RADOS
 * write op list, all or nothing: answers the object's `stat`, or null once
 * removed), `read_op {pool, object, ops}` (answers one result per op),
 * their raw forms `write_op_bytes` (a framed body, ops naming a `part`
 * for their bytes) and `read_op_bytes` (a framed answer, reads as parts),
 * `list {pool, after?, limit?}`. An op that fails names its RADOS errno
 * and index (`ENOENT` 404, `EEXIST` 409, `EINVAL` 400). Option
 * `chunkBytes` (default 1 MiB, 16 B to 16 MiB): how objects are cut.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mobject } from "./service.ts";
 * assert.equal(mobject.name, "mobject");
 * assert.deepEqual(mobject.options, ["chunkBytes"]);
 * ```
 */
export const mobject: ServiceDefinition = defineService({
  name: "mobject",
  options: ["chunkBytes"],
  open: (ctx) => {
    const chunkBytes = ctx.options.chunkBytes ?? DEFAULT_CHUNK_BYTES;
    if (
      typeof chunkBytes !== "number" || !Number.isSafeInteger(chunkBytes) || chunkBytes < 16 ||
      chunkBytes > 16 << 20
    ) {
      throw new InvalidConfigError(
        `Invalid configuration: 'services.${ctx.name}.options.chunkBytes' must be a byte count from 16 to 16777216, found ${
          JSON.stringify(chunkBytes)
        }`,
      );
    }
    const store = new ObjectStore(ctx.meta, ctx.targets, chunkBytes);
    const byObject = (input: unknown) => {
      const { pool, object } = objectOf(input);
      return store.targetOf(pool, object);
    };
    // Keys a crash orphaned on this runtime's targets, swept in the background.
    const ring = ctx.targets;
    const mine = Array.from({ length: ring.numTargets }, (_, t) => t)
      .filter((t) => ring.runtimeOf(t) === ctx.node || !ring.runtimes.includes(ctx.node));
    let closing = false;
    const sweeping = store.sweep(mine, () => closing).then(
      (n) => {
        if (n > 0) log.info("orphaned object keys swept", { service: ctx.name, keys: n });
      },
      (e) => {
        if (!closing) {
          log.warn("sweep of orphaned object keys failed", { service: ctx.name, error: String(e) });
        }
      },
    );
    return Promise.resolve({
      name: ctx.name,
      info: () => ({ numTargets: ctx.targets.numTargets, chunkBytes }),
      close: async () => {
        closing = true;
        await sweeping;
      },
      // Every request of an object, reads too, runs on its target's runtime,
      // one after another: each object is linearizable.
      routes: {
        write_op: { target: byObject },
        write_op_bytes: {
          target: (input) => byObject(rawBodyOf(input, "write_op_bytes").layout().header),
        },
        read_op: { target: byObject },
        read_op_bytes: { target: byObject },
      },
      operations: {
        write_op: async (input) => {
          const { pool, object } = objectOf(input);
          return { stat: await store.operate(pool, object, writeOps(input)) };
        },
        write_op_bytes: async (input) => {
          const { header, parts } = await framed(input);
          const { pool, object } = objectOf(header);
          const ops = writeOps(framedWriteOps(header, parts));
          return { stat: await store.operate(pool, object, ops) };
        },
        read_op: async (input) => {
          const { pool, object } = objectOf(input);
          return { results: await store.read(pool, object, readOps(input)) };
        },
        // The bytes read travel as the parts of a framed answer, not inside msgpack.
        read_op_bytes: async (input) => {
          const { pool, object } = objectOf(input);
          const results = await store.read(pool, object, readOps(input));
          const parts: Uint8Array[] = [];
          const header = results.map((r) => {
            if (!("data" in r)) return r;
            parts.push(r.data);
            return { part: parts.length - 1 };
          });
          return new RawReply(frame({ results: header }, parts) as Uint8Array<ArrayBuffer>[]);
        },
        list: async (input) => {
          const r = record(input);
          const after = r.after === undefined || r.after === null ? undefined : str(r, "after");
          return {
            objects: await store.list(
              str(r, "pool", true),
              after,
              int(r, "limit", 1, MAX_ENTRIES, 1000),
            ),
          };
        },
      },
    });
  },
});
