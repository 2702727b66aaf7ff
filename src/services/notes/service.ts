/**
 * The kit's small example service: named notes of any size, listed in name
 * order, each note on the target its name hashes to. docs/services.md walks
 * through it.
 *
 * @module
 */

import { InvalidRequestError, NotFoundError } from "../../errors.ts";
import { hash32 } from "../hash.ts";
import { defineService, type ServiceDefinition } from "../service.ts";

const utf8 = new TextEncoder();

function nameOf(input: unknown): string {
  const name = (input as { name?: unknown } | null)?.name;
  if (typeof name !== "string" || name === "" || utf8.encode(name).length > 256) {
    throw new InvalidRequestError("Invalid note name: expected 1 to 256 bytes", {
      fields: { field: "name" },
    });
  }
  return name;
}

/**
 * The notes service: `put {name, text}`, `get {name}`, `list {after?}`,
 * `delete {name}`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { notes } from "./service.ts";
 * assert.equal(notes.name, "notes");
 * ```
 */
export const notes: ServiceDefinition = defineService({
  name: "notes",
  options: [],
  open: (ctx) => {
    const key = (name: string) => ["note", ctx.targets.targetOf(hash32(utf8.encode(name))), name];
    return Promise.resolve({
      name: ctx.name,
      info: () => ({ numTargets: ctx.targets.numTargets }),
      close: () => Promise.resolve(),
      operations: {
        put: async (input) => {
          const text = (input as { text?: unknown }).text;
          if (typeof text !== "string") {
            throw new InvalidRequestError("Invalid note text: expected a string", {
              fields: { field: "text" },
            });
          }
          await ctx.meta.write([{
            type: "set",
            key: key(nameOf(input)),
            value: utf8.encode(text),
          }]);
          return { stored: true };
        },
        get: async (input) => {
          const name = nameOf(input);
          const v = await ctx.meta.get(key(name));
          if (v === undefined) throw new NotFoundError(`No note '${name}'`, { fields: { name } });
          return { name, text: new TextDecoder().decode(v) };
        },
        list: async () => {
          const names: string[] = [];
          for (let t = 0; t < ctx.targets.numTargets; t++) {
            for await (const k of ctx.meta.keys({ prefix: ["note", t], limit: 1000 })) {
              names.push(k[2] as string);
            }
          }
          return { names: names.sort() };
        },
        delete: async (input) => {
          await ctx.meta.write([{ type: "delete", key: key(nameOf(input)) }]);
          return { deleted: true };
        },
      },
    });
  },
});
