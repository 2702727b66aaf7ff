/**
 * FlameStore as a service of the kit: a store of deep-learning models, each
 * registered once with its architecture and the shape of its weights, then
 * its weights saved (checked against that shape) and loaded whole, served as
 * `POST /v1/services/flamestore/<operation>`. See docs/services.md.
 *
 * @module
 */

import { ConflictError, InvalidRequestError, NotFoundError } from "../../errors.ts";
import { frame, unframe } from "../frames.ts";
import { hash32 } from "../hash.ts";
import { KeyedQueue } from "../keyed_queue.ts";
import { bytes, int, leaseOptions, MAX_ENTRIES, record, str } from "../input.ts";
import type { MetaLease, ServiceMeta } from "../meta.ts";
import { defineService, rawBodyOf, RawReply, type ServiceDefinition } from "../service.ts";
import type { TargetRing } from "../targets.ts";
import type { StagedFile } from "../../tiers/tier.ts";
import {
  checkModelName,
  checkWeightSpecs,
  type ModelRecord,
  signatureOf,
  weightBytes,
} from "./model.ts";

const utf8 = new TextEncoder();
const text = new TextDecoder();

/** Leases of one model's weights tried while saves keep changing them, at most. */
const LEASE_ATTEMPTS = 8;

/** What `save` and `save_bytes` take: the model, the bytes, and the weights' shape they follow. */
interface Save {
  readonly name: string;
  /** The weights: bytes, or a staged file of the node (stored without reading it). */
  readonly data: Uint8Array | StagedFile;
  /** The signature of the weights' dtypes and shapes, which the model's must match. */
  readonly signature: string;
}

/**
 * The models of one service: records and weights in the service's keys,
 * each model on the target its name hashes to; the writes of one model run
 * one after another in this process (each model's writes are routed to its
 * target's runtime).
 */
class ModelStore {
  readonly #meta: ServiceMeta;
  readonly #ring: TargetRing;
  /** The writes of each model, one after another. */
  readonly #writing = new KeyedQueue();

  constructor(meta: ServiceMeta, ring: TargetRing) {
    this.#meta = meta;
    this.#ring = ring;
  }

  targetOf(name: string): number {
    return this.#ring.targetOf(hash32(utf8.encode(name)));
  }

  #recordKey(name: string): Deno.KvKey {
    return ["model", this.targetOf(name), name];
  }

  #weightsKey(name: string): Deno.KvKey {
    return ["weights", this.targetOf(name), name];
  }

  /** Runs `fn` after the writes of `name` queued before it. */
  #serial<T>(name: string, fn: () => Promise<T>): Promise<T> {
    return this.#writing.run(name, fn);
  }

  async record(name: string): Promise<ModelRecord> {
    const raw = await this.#meta.get(this.#recordKey(checkModelName(name)));
    if (raw === undefined) {
      throw new NotFoundError(`No model '${name}': register it first`, { fields: { model: name } });
    }
    return JSON.parse(text.decode(raw)) as ModelRecord;
  }

  register(input: Record<string, unknown>): Promise<ModelRecord> {
    const name = checkModelName(input.name);
    const weightSpecs = checkWeightSpecs(input.weightSpecs);
    if (input.topology === undefined) {
      throw new InvalidRequestError("Invalid field 'topology': expected the model's architecture", {
        fields: { field: "topology" },
      });
    }
    const made: ModelRecord = {
      name,
      topology: input.topology,
      trainingConfig: input.trainingConfig ?? null,
      weightSpecs,
      signature: signatureOf(weightSpecs),
      byteLength: weightBytes(weightSpecs),
      createdAt: Date.now(),
      saves: 0,
      savedAt: 0,
    };
    return this.#serial(name, async () => {
      const [ok] = await this.#meta.write([{
        type: "setIfAbsent",
        key: this.#recordKey(name),
        value: utf8.encode(JSON.stringify(made)),
      }]);
      if (!ok) {
        throw new ConflictError(`Model '${name}' exists: duplicate it or choose another name`, {
          fields: { model: name },
        });
      }
      return made;
    });
  }

  save(s: Save): Promise<ModelRecord> {
    const name = checkModelName(s.name);
    return this.#serial(name, async () => {
      const r = await this.record(name);
      if (s.signature !== r.signature) {
        throw new ConflictError(
          `Weights of signature ${s.signature} do not fit model '${name}' (signature ${r.signature}): its tensors' dtypes or shapes differ`,
          { fields: { model: name, expected: r.signature, found: s.signature } },
        );
      }
      if (s.data.byteLength !== r.byteLength) {
        throw new InvalidRequestError(
          `Weights of model '${name}' take ${r.byteLength} bytes, received ${s.data.byteLength}`,
          { fields: { model: name, expected: r.byteLength, received: s.data.byteLength } },
        );
      }
      const next: ModelRecord = { ...r, saves: r.saves + 1, savedAt: Date.now() };
      // The weights (a blob when large, written before the commit) and the
      // record that counts the save commit together.
      const key = this.#weightsKey(name);
      await this.#meta.atomic([
        s.data instanceof Uint8Array
          ? { type: "set", key, value: s.data }
          : { type: "setFile", key, file: s.data },
        { type: "set", key: this.#recordKey(name), value: utf8.encode(JSON.stringify(next)) },
      ]);
      return next;
    });
  }

  async load(name: string): Promise<{ record: ModelRecord; data: Uint8Array }> {
    const [raw, data] = await this.#meta.getMany([
      this.#recordKey(checkModelName(name)),
      this.#weightsKey(name),
    ]);
    if (raw === undefined) {
      throw new NotFoundError(`No model '${name}': register it first`, { fields: { model: name } });
    }
    const record = JSON.parse(text.decode(raw)) as ModelRecord;
    if (data === undefined) {
      throw new NotFoundError(`Model '${name}' has no weights saved yet`, {
        fields: { model: name },
      });
    }
    return { record, data };
  }

  /**
   * The record of `name` and where its weights are for a process of this
   * node to read them in place (`ServiceMeta.leaseMany`): their bytes when
   * small, a range of a file leased on this node's shm tier, or their size
   * alone (held elsewhere: load them). Both come from one read of KV, so
   * that they belong to the same save; a record too large for a KV value
   * (a blob of its own) is read before and after the weights are leased
   * again, until the two reads agree.
   */
  async lease(
    name: string,
    options: { readonly ttlMs?: number } = {},
  ): Promise<{ record: ModelRecord; weights: MetaLease }> {
    checkModelName(name);
    const [raw, weights] = await this.#meta.leaseMany(
      [this.#recordKey(name), this.#weightsKey(name)],
      options,
    );
    if (raw !== undefined && "bytes" in raw && weights !== undefined) {
      return { record: JSON.parse(text.decode(raw.bytes)), weights };
    }
    await this.#release(raw);
    await this.#release(weights);
    // Unknown, never saved, or a record too large for a KV value (a blob): the
    // weights are leased between two reads of the record.
    for (let attempt = 0; attempt < LEASE_ATTEMPTS; attempt++) {
      const before = await this.record(name);
      const [w] = await this.#meta.leaseMany([this.#weightsKey(name)], options);
      let after: ModelRecord;
      try {
        after = await this.record(name);
      } catch (e) {
        await this.#release(w);
        throw e;
      }
      if (after.saves === before.saves) {
        if (w === undefined) {
          throw new NotFoundError(`Model '${name}' has no weights saved yet`, {
            fields: { model: name },
          });
        }
        return { record: after, weights: w };
      }
      // Saved again meanwhile: the weights may be the newer save's.
      await this.#release(w);
    }
    throw new ConflictError(
      `Model '${name}' was saved ${LEASE_ATTEMPTS} times while its weights were being leased: load it again`,
      { fields: { model: name } },
    );
  }

  async #release(leased: MetaLease | undefined): Promise<void> {
    if (leased !== undefined && "lease" in leased) {
      await this.#meta.blobs.releaseLease(leased.lease);
    }
  }

  duplicate(source: string, name: string): Promise<ModelRecord> {
    checkModelName(source);
    checkModelName(name);
    return this.#serial(name, async () => {
      const [raw, data] = await this.#meta.getMany([
        this.#recordKey(source),
        this.#weightsKey(source),
      ]);
      if (raw === undefined) {
        throw new NotFoundError(`No model '${source}' to duplicate`, {
          fields: { model: source },
        });
      }
      const r = JSON.parse(text.decode(raw)) as ModelRecord;
      const copy: ModelRecord = { ...r, name, createdAt: Date.now() };
      const ok = await this.#meta.atomic([
        {
          type: "setIfAbsent",
          key: this.#recordKey(name),
          value: utf8.encode(JSON.stringify(copy)),
        },
        ...(data === undefined
          ? [{ type: "delete" as const, key: this.#weightsKey(name) }]
          : [{ type: "set" as const, key: this.#weightsKey(name), value: data }]),
      ]);
      if (!ok) {
        throw new ConflictError(`Model '${name}' exists: choose another name for the duplicate`, {
          fields: { model: name },
        });
      }
      return copy;
    });
  }

  delete(name: string): Promise<boolean> {
    checkModelName(name);
    return this.#serial(name, async () => {
      const [found] = await this.#meta.has([this.#recordKey(name)]);
      if (!found) return false;
      await this.#meta.atomic([
        { type: "delete", key: this.#recordKey(name) },
        { type: "delete", key: this.#weightsKey(name) },
      ]);
      return true;
    });
  }

  /** Model names after `after`, in name order, at most `limit`. */
  async list(after: string | undefined, limit: number): Promise<string[]> {
    const names: string[] = [];
    for (let t = 0; t < this.#ring.numTargets; t++) {
      const prefix = ["model", t];
      const scan = after === undefined ? { prefix } : { prefix, start: [...prefix, after] };
      for await (const k of this.#meta.keys({ ...scan, limit: limit + 1 })) {
        const n = k[2] as string;
        if (n !== after) names.push(n);
      }
    }
    return names.sort().slice(0, limit);
  }
}

/** The model a `save_bytes` body names, and its bytes. */
async function framedSave(input: unknown): Promise<Save> {
  const { header, parts } = unframe(await rawBodyOf(input, "save_bytes").read());
  const data = parts[0];
  if (parts.length !== 1 || data === null || data === undefined) {
    throw new InvalidRequestError(
      `Invalid save_bytes body: expected one part (the weights), found ${parts.length}`,
    );
  }
  return saveOf(header, data);
}

function saveOf(r: Record<string, unknown>, data: Uint8Array | StagedFile): Save {
  const name = checkModelName(r.name);
  let signature = r.signature === undefined ? undefined : str(r, "signature");
  if (r.weightSpecs !== undefined) {
    const fromSpecs = signatureOf(checkWeightSpecs(r.weightSpecs));
    if (signature !== undefined && signature !== fromSpecs) {
      throw new InvalidRequestError(
        `Invalid save of '${name}': signature ${signature} is not its weight specs' (${fromSpecs})`,
      );
    }
    signature = fromSpecs;
  }
  if (signature === undefined) {
    throw new InvalidRequestError(
      `Invalid save of '${name}': name the weights' 'signature' or their 'weightSpecs', which the model's must match`,
      { fields: { field: "signature" } },
    );
  }
  return { name, data, signature };
}

/**
 * The FlameStore service. Operations: `register {name, topology,
 * trainingConfig?, weightSpecs}` (create-only: 409 when the name exists),
 * `reload {name}` (the record, no weights), `save {name, data | stage,
 * weightSpecs | signature}` (`stage`: the weights staged on this node's
 * shm tier, stored from the file) and `save_bytes` (a framed body: header
 * `{name, weightSpecs | signature}`, one part), `load {name}` and
 * `load_bytes {name}` (a framed answer: header `{signature, saves}`, one
 * part), `lease {name, ttlMs?}` (`{signature, saves, weightSpecs,
 * weights}`: the weights' bytes, a range of a file leased on this node's
 * shm tier for a process of the node to read in place, or their size),
 * `duplicate {source, name}`, `delete {name}`, `list {after?, limit?}`. A
 * save whose signature differs from the model's is a 409, one
 * of another byte length a 400.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { flamestore } from "./service.ts";
 * assert.equal(flamestore.name, "flamestore");
 * ```
 */
export const flamestore: ServiceDefinition = defineService({
  name: "flamestore",
  options: [],
  open: (ctx) => {
    const models = new ModelStore(ctx.meta, ctx.targets);
    const byName = (input: unknown) => models.targetOf(checkModelName(record(input).name));
    return Promise.resolve({
      name: ctx.name,
      info: () => ({ numTargets: ctx.targets.numTargets }),
      close: () => Promise.resolve(),
      // Every write of a model runs on its target's runtime (its weights'
      // blob lands in that runtime's tiers), one after another.
      routes: {
        register: { target: byName },
        save: { target: byName },
        save_bytes: {
          target: (input) =>
            models.targetOf(checkModelName(rawBodyOf(input, "save_bytes").layout().header.name)),
        },
        duplicate: { target: byName },
        delete: { target: byName },
        // The weights' file is leased on the node of the runtime that wrote them.
        lease: { target: byName },
      },
      operations: {
        register: async (input) => await models.register(record(input)),
        reload: async (input) => await models.record(str(record(input), "name")),
        save: async (input) => {
          const r = record(input);
          if (r.stage === undefined) {
            const saved = await models.save(saveOf(r, bytes(r.data, "data")));
            return { saves: saved.saves, signature: saved.signature };
          }
          // The weights staged in this node's shm tier: stored from the file.
          const staged = await ctx.stages.take(str(r, "stage"));
          try {
            const saved = await models.save(saveOf(r, staged));
            return { saves: saved.saves, signature: saved.signature };
          } finally {
            await staged.remove();
          }
        },
        save_bytes: async (input) => {
          const saved = await models.save(await framedSave(input));
          return { saves: saved.saves, signature: saved.signature };
        },
        load: async (input) => {
          const { record: r, data } = await models.load(str(record(input), "name"));
          return { data, signature: r.signature, saves: r.saves, weightSpecs: r.weightSpecs };
        },
        // Where the weights are for a client on this runtime's node: a leased file it reads in place.
        lease: async (input) => {
          const r = record(input);
          const { record: m, weights } = await models.lease(str(r, "name"), leaseOptions(r));
          return { signature: m.signature, saves: m.saves, weightSpecs: m.weightSpecs, weights };
        },
        load_bytes: async (input) => {
          const { record: r, data } = await models.load(str(record(input), "name"));
          return new RawReply(
            frame({ signature: r.signature, saves: r.saves }, [data]) as Uint8Array<ArrayBuffer>[],
          );
        },
        duplicate: async (input) => {
          const r = record(input);
          return await models.duplicate(str(r, "source"), str(r, "name"));
        },
        delete: async (input) => ({ deleted: await models.delete(str(record(input), "name")) }),
        list: async (input) => {
          const r = record(input ?? {});
          const after = r.after === undefined || r.after === null ? undefined : str(r, "after");
          return { models: await models.list(after, int(r, "limit", 1, MAX_ENTRIES, 1000)) };
        },
      },
    });
  },
});
