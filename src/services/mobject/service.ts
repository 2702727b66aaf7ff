/**
 * Mobject as a service of the kit: a RADOS-like object store, served as
 * `POST /v1/services/mobject/<operation>`. See docs/services.md.
 *
 * @module
 */

import { InvalidConfigError } from "../../errors.ts";
import { int, MAX_ENTRIES, record, str } from "../input.ts";
import { defineService, type ServiceDefinition } from "../service.ts";
import { objectOf, readOps, writeOps } from "./ops.ts";
import { DEFAULT_CHUNK_BYTES, ObjectStore } from "./store.ts";

/**
 * The Mobject service. Operations: `write_op {pool, object, ops}` (a RADOS
 * write op list, all or nothing: answers the object's `stat`, or null once
 * removed), `read_op {pool, object, ops}` (answers one result per op),
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
    return Promise.resolve({
      name: ctx.name,
      info: () => ({ numTargets: ctx.targets.numTargets, chunkBytes }),
      close: () => Promise.resolve(),
      // Every request of an object, reads too, runs on its target's runtime,
      // one after another: each object is linearizable.
      routes: {
        write_op: { target: byObject },
        read_op: { target: byObject },
      },
      operations: {
        write_op: async (input) => {
          const { pool, object } = objectOf(input);
          return { stat: await store.operate(pool, object, writeOps(input)) };
        },
        read_op: async (input) => {
          const { pool, object } = objectOf(input);
          return { results: await store.read(pool, object, readOps(input)) };
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
