/**
 * The Mobject client, shaped as librados: an `IoCtx` per pool, write op
 * lists and read op lists built then operated on one object, and the
 * single-op shortcuts (`write`, `read`, `stat`, `remove`, ...), over
 * `POST /v1/services/mobject/<operation>` with msgpack bodies. An op that
 * fails raises the server's error, with `fields.errno` RADOS's errno.
 *
 * @module
 */

import { encode } from "@msgpack/msgpack";
import { frame, OCTET_STREAM } from "../frames.ts";
import { joinBytes } from "../../http/join_bytes.ts";
import { hash32 } from "../hash.ts";
import { MSGPACK, ServiceClient, type ServiceClientOptions } from "../service_client.ts";
import type { ReadOp, WriteOp } from "./ops.ts";
import type { ObjectStat } from "./store.ts";

const utf8 = new TextEncoder();

/** Options of a connection. */
export interface MobjectOptions extends ServiceClientOptions {
  /** The service's name in config (default `mobject`). */
  readonly service?: string;
}

/**
 * A write op list (`rados_write_op_t`): every op applies, or none.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { WriteOpList } from "./client.ts";
 * const op = new WriteOpList().create(true).write(new Uint8Array([1]), 0).omapSet({ k: new Uint8Array([2]) });
 * assert.deepEqual(op.ops.map((o) => o.op), ["create", "write", "omap_set"]);
 * ```
 */
export class WriteOpList {
  /** The ops, in order. */
  readonly ops: WriteOp[] = [];

  /** Creates the object; `exclusive`: fail (EEXIST) when it exists. */
  create(exclusive = false): this {
    this.ops.push({ op: "create", exclusive });
    return this;
  }
  /** Writes `data` at `offset`. */
  write(data: Uint8Array, offset: number): this {
    this.ops.push({ op: "write", data, offset });
    return this;
  }
  /** Replaces the object's bytes with `data`. */
  writeFull(data: Uint8Array): this {
    this.ops.push({ op: "write_full", data });
    return this;
  }
  /** Writes `data` repeated over `length` bytes at `offset` (`length` a multiple of its size). */
  writeSame(data: Uint8Array, length: number, offset: number): this {
    this.ops.push({ op: "writesame", data, length, offset });
    return this;
  }
  /** Appends `data`. */
  append(data: Uint8Array): this {
    this.ops.push({ op: "append", data });
    return this;
  }
  /** Removes the object (ENOENT when there is none). */
  remove(): this {
    this.ops.push({ op: "remove" });
    return this;
  }
  /** Sets the size: cut, or extended with zeros. */
  truncate(size: number): this {
    this.ops.push({ op: "truncate", size });
    return this;
  }
  /** Zeroes `length` bytes from `offset`, never past the end. */
  zero(offset: number, length: number): this {
    this.ops.push({ op: "zero", offset, length });
    return this;
  }
  /** Sets omap entries. */
  omapSet(entries: Readonly<Record<string, Uint8Array>>): this {
    this.ops.push({ op: "omap_set", keys: Object.keys(entries), values: Object.values(entries) });
    return this;
  }
  /** Removes omap keys. */
  omapRmKeys(keys: readonly string[]): this {
    this.ops.push({ op: "omap_rm_keys", keys });
    return this;
  }
  /** Removes every omap key. */
  omapClear(): this {
    this.ops.push({ op: "omap_clear" });
    return this;
  }
}

/**
 * A read op list (`rados_read_op_t`): one result per op, in order.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ReadOpList } from "./client.ts";
 * assert.equal(new ReadOpList().stat().read(0, 10).ops.length, 2);
 * ```
 */
export class ReadOpList {
  /** The ops, in order. */
  readonly ops: ReadOp[] = [];

  /** The object's size, mtime and version. */
  stat(): this {
    this.ops.push({ op: "stat" });
    return this;
  }
  /** Up to `length` bytes from `offset` (fewer past the end). */
  read(offset: number, length: number): this {
    this.ops.push({ op: "read", offset, length });
    return this;
  }
  /** Omap entries after `startAfter` whose keys start with `prefix`, at most `max`. */
  omapGetVals(o: { startAfter?: string; prefix?: string; max?: number } = {}): this {
    this.ops.push({
      op: "omap_get_vals",
      startAfter: o.startAfter ?? "",
      prefix: o.prefix ?? "",
      max: o.max ?? 1000,
    });
    return this;
  }
  /** Omap keys after `startAfter`, at most `max`. */
  omapGetKeys(o: { startAfter?: string; max?: number } = {}): this {
    this.ops.push({ op: "omap_get_keys", startAfter: o.startAfter ?? "", max: o.max ?? 1000 });
    return this;
  }
  /** The omap entries of `keys` that exist. */
  omapGetValsByKeys(keys: readonly string[]): this {
    this.ops.push({ op: "omap_get_vals_by_keys", keys });
    return this;
  }
}

/** One result of a read op list. */
export type ReadOpResult =
  | ObjectStat
  | { readonly data: Uint8Array }
  | { readonly keys: string[]; readonly values?: Uint8Array[]; readonly more: boolean };

/**
 * A connection to a Mobject service.
 *
 * @example
 * ```ts ignore
 * const cluster = await Mobject.connect("http://127.0.0.1:7070");
 * const io = cluster.ioctx("data");
 * await io.operate("obj", new WriteOpList().create(true).writeFull(bytes));
 * const [stat, read] = await io.read("obj", new ReadOpList().stat().read(0, 4096));
 * ```
 */
export class Mobject {
  readonly #client: ServiceClient;

  private constructor(client: ServiceClient) {
    this.#client = client;
  }

  /** Connects, reading where the service's targets are. */
  static async connect(url: string, options: MobjectOptions = {}): Promise<Mobject> {
    const { service, ...o } = options;
    return new Mobject(await ServiceClient.connect(url, service ?? "mobject", o));
  }

  /** The objects of pool `pool` (pools need no creating: a pool is a namespace). */
  ioctx(pool: string): IoCtx {
    return new IoCtx(this.#client, pool);
  }
}

/** The objects of one pool (`rados_ioctx_t`). */
export class IoCtx {
  readonly #client: ServiceClient;
  /** The pool. */
  readonly pool: string;

  /** The objects of `pool` through `client`. */
  constructor(client: ServiceClient, pool: string) {
    this.#client = client;
    this.pool = pool;
  }

  /**
   * Applies a write op list, all or nothing; answers the object's stat
   * (null once removed). Its bytes travel raw, not inside msgpack, to the
   * runtime of the object's target (staged through that runtime's shm tier
   * when this process is on its node).
   */
  async operate(object: string, list: WriteOpList): Promise<ObjectStat | null> {
    const parts: Uint8Array[] = [];
    const ops = list.ops.map((op) => {
      if (!("data" in op)) return op;
      parts.push(op.data);
      const { data: _, ...rest } = op;
      return { ...rest, part: parts.length - 1 };
    });
    if (parts.length === 0) {
      const r = await this.#client.call<{ stat: ObjectStat | null }>("write_op", {
        pool: this.pool,
        object,
        ops,
      });
      return r.stat;
    }
    const res = await this.#client.sendTo(this.#runtimeOf(object), "write_op_bytes", {
      type: OCTET_STREAM,
      accept: MSGPACK,
      body: joinBytes(frame({ pool: this.pool, object, ops }, parts)),
    });
    return (await this.#client.answer<{ stat: ObjectStat | null }>(res)).stat;
  }

  /**
   * Runs a read op list at the runtime of the object's target, the bytes
   * read coming back raw; `NotFoundError` (ENOENT) when the object does not
   * exist.
   */
  async read(object: string, list: ReadOpList): Promise<ReadOpResult[]> {
    const { header, parts } = await this.#client.framed(this.#runtimeOf(object), "read_op_bytes", {
      type: MSGPACK,
      body: encode({ pool: this.pool, object, ops: list.ops }) as Uint8Array<ArrayBuffer>,
    });
    return (header.results as (ReadOpResult | { part: number })[]).map((r) =>
      "part" in r ? { data: parts[r.part] ?? new Uint8Array(0) } : r
    );
  }

  /** The index, in ring order, of the runtime holding the target of `object`. */
  #runtimeOf(object: string): number {
    const target = this.#client.ring.targetOf(hash32(utf8.encode(`${this.pool}/${object}`)));
    return this.#client.runtimeOf(target);
  }

  /** Writes `data` at `offset`. */
  write(object: string, data: Uint8Array, offset = 0): Promise<ObjectStat | null> {
    return this.operate(object, new WriteOpList().write(data, offset));
  }

  /** Replaces the object's bytes. */
  writeFull(object: string, data: Uint8Array): Promise<ObjectStat | null> {
    return this.operate(object, new WriteOpList().writeFull(data));
  }

  /** Appends `data`. */
  append(object: string, data: Uint8Array): Promise<ObjectStat | null> {
    return this.operate(object, new WriteOpList().append(data));
  }

  /** Up to `length` bytes from `offset`. */
  async readBytes(object: string, length: number, offset = 0): Promise<Uint8Array> {
    const [r] = await this.read(object, new ReadOpList().read(offset, length));
    return (r as { data: Uint8Array }).data;
  }

  /** The object's size, mtime and version. */
  async stat(object: string): Promise<ObjectStat> {
    const [r] = await this.read(object, new ReadOpList().stat());
    return r as ObjectStat;
  }

  /** Removes the object. */
  async remove(object: string): Promise<void> {
    await this.operate(object, new WriteOpList().remove());
  }

  /** Object names in name order, after `after`, at most `limit` (default 1000). */
  async list(
    options: { readonly after?: string; readonly limit?: number } = {},
  ): Promise<string[]> {
    const r = await this.#client.call<{ objects: string[] }>("list", {
      pool: this.pool,
      ...options,
    });
    return r.objects;
  }
}
