/**
 * An object as an op list changes it, before the changes commit: its
 * record (size, mtime, version, incarnation, data generation), the chunks
 * of its bytes written or dropped, and its omap keys set or removed. The
 * bytes are cut in chunks of `chunkBytes`; a chunk missing, or shorter than
 * the bytes the object's size covers, reads as zeros (sparse). Reads of
 * what the list did not touch go to a `DraftSource` (the stored object).
 *
 * @module
 */

import { PayloadTooLargeError } from "../../errors.ts";
import { MAX_OBJECT_BYTES, opError, type WriteOp } from "./ops.ts";

/** An object's record as stored. */
export interface ObjectRecord {
  /** Bytes. */
  readonly size: number;
  /** When it was last written, ms since the epoch. */
  readonly mtime: number;
  /** Op lists applied to it since it was created. */
  readonly version: number;
  /** Identifies this life of the object: a removed and created again object has another. */
  readonly incarnation: string;
  /** Generation of its chunks: a truncate that drops too many chunks to delete at once starts a new one. */
  readonly dataGen: number;
}

/** Where a draft reads what the list has not touched. */
export interface DraftSource {
  /** Chunk `index` of generation (`incarnation`, `dataGen`), or undefined (zeros). */
  chunk(incarnation: string, dataGen: number, index: number): Promise<Uint8Array | undefined>;
  /** The chunks of that generation stored from index `from` to `to` (exclusive), by index. */
  chunks(
    incarnation: string,
    dataGen: number,
    from: number,
    to: number,
  ): Promise<Map<number, Uint8Array>>;
  /** Every omap key of `incarnation`. */
  omapKeys(incarnation: string): Promise<string[]>;
}

/** What an applied op list changes. */
export interface DraftResult {
  /** The record to store, or undefined: the object is removed. */
  readonly record: ObjectRecord | undefined;
  /** Chunks of the live generation to set (bytes) or delete (null), by index. */
  readonly chunks: ReadonlyMap<number, Uint8Array | null>;
  /** Omap keys of the live incarnation to set or delete (null). */
  readonly omap: ReadonlyMap<string, Uint8Array | null>;
  /**
   * Chunk generations no record names any more, and incarnations whose
   * omap keys no record names: to delete after the commit.
   */
  readonly garbage: {
    readonly chunks: readonly { incarnation: string; dataGen: number }[];
    readonly omap: readonly string[];
  };
}

/** Most chunks and omap keys one op list may change (a commit holds 1000 writes). */
export const MAX_CHANGES = 900;

/**
 * The draft of one object under one op list.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ObjectDraft } from "./object_draft.ts";
 * const none = {
 *   chunk: () => Promise.resolve(undefined),
 *   chunks: () => Promise.resolve(new Map()),
 *   omapKeys: () => Promise.resolve([]),
 * };
 * const d = new ObjectDraft(undefined, 4, none);
 * await d.apply({ op: "write", data: new Uint8Array([1, 2, 3, 4, 5, 6]), offset: 1 }, 0);
 * assert.equal(d.size, 7);
 * assert.deepEqual([...await d.read(0, 7)], [0, 1, 2, 3, 4, 5, 6]);
 * assert.equal(d.result().chunks.size, 2);
 * ```
 */
export class ObjectDraft {
  readonly #chunkBytes: number;
  readonly #source: DraftSource;
  readonly #committed: ObjectRecord | undefined;
  #record: ObjectRecord | undefined;
  #chunks = new Map<number, Uint8Array | null>();
  #omap = new Map<string, Uint8Array | null>();
  /** Whether the omap of the live incarnation was cleared in this list (stored keys read as gone). */
  #omapCleared = false;
  #touched = false;

  /** A draft of the object whose stored record is `committed` (undefined: none). */
  constructor(committed: ObjectRecord | undefined, chunkBytes: number, source: DraftSource) {
    this.#committed = committed;
    this.#record = committed;
    this.#chunkBytes = chunkBytes;
    this.#source = source;
  }

  /** Whether the object exists now. */
  get exists(): boolean {
    return this.#record !== undefined;
  }

  /** Its size now (0 when it does not exist). */
  get size(): number {
    return this.#record?.size ?? 0;
  }

  /** Applies write op number `i`; op errors carry RADOS's errno (see `opError`). */
  async apply(op: WriteOp, i: number): Promise<void> {
    this.#touched = true;
    switch (op.op) {
      case "create":
        if (this.#record !== undefined) {
          if (op.exclusive) throw opError("exists", i, "an exclusive create found the object");
          return;
        }
        this.#create();
        return;
      case "write":
        return await this.#write(op.data, op.offset, i);
      case "write_full":
        this.#ensure();
        await this.#truncate(0, i);
        return await this.#write(op.data, 0, i);
      case "writesame": {
        const out = new Uint8Array(op.length);
        for (let at = 0; at < op.length; at += op.data.length) out.set(op.data, at);
        return await this.#write(out, op.offset, i);
      }
      case "append":
        return await this.#write(op.data, this.size, i);
      case "remove":
        if (this.#record === undefined) throw opError("missing", i, "remove found no object");
        this.#record = undefined;
        this.#chunks = new Map();
        this.#omap = new Map();
        this.#omapCleared = false;
        return;
      case "truncate":
        this.#ensure();
        return await this.#truncate(op.size, i);
      case "zero":
        if (this.#record === undefined) throw opError("missing", i, "zero found no object");
        return await this.#zero(op.offset, op.length, i);
      case "omap_set":
        this.#ensure();
        op.keys.forEach((k, j) => this.#omap.set(k, op.values[j]!));
        return this.#bounded(i);
      case "omap_rm_keys":
        if (this.#record === undefined) throw opError("missing", i, "omap_rm_keys found no object");
        for (const k of op.keys) this.#omap.set(k, null);
        return this.#bounded(i);
      case "omap_clear": {
        const r = this.#record;
        if (r === undefined) throw opError("missing", i, "omap_clear found no object");
        const stored = this.#omapCleared ? [] : await this.#source.omapKeys(r.incarnation);
        for (const k of [...stored, ...this.#omap.keys()]) this.#omap.set(k, null);
        this.#omapCleared = true;
        return this.#bounded(i);
      }
    }
  }

  /** Bytes `offset` to `offset + length` (clipped to the size) as the list leaves them. */
  async read(offset: number, length: number): Promise<Uint8Array> {
    const end = Math.min(this.size, offset + length);
    const out = new Uint8Array(Math.max(0, end - offset));
    const c = this.#chunkBytes;
    if (out.length === 0) return out;
    for (const [idx, chunk] of await this.#chunksIn(Math.floor(offset / c), Math.ceil(end / c))) {
      const from = Math.max(offset, idx * c);
      const to = Math.min(end, idx * c + chunk.length);
      if (to > from) out.set(chunk.subarray(from - idx * c, to - idx * c), from - offset);
    }
    return out;
  }

  /** What the list changes; undefined record when it removes the object. */
  result(): DraftResult {
    const before = this.#committed;
    let record = this.#record;
    if (record !== undefined && this.#touched) {
      record = { ...record, version: record.version + 1, mtime: Date.now() };
    }
    const garbage = {
      chunks: [] as DraftResult["garbage"]["chunks"][number][],
      omap: [] as string[],
    };
    if (before !== undefined) {
      const sameData = record?.incarnation === before.incarnation &&
        record.dataGen === before.dataGen;
      if (!sameData) {
        garbage.chunks.push({ incarnation: before.incarnation, dataGen: before.dataGen });
      }
      if (record?.incarnation !== before.incarnation) garbage.omap.push(before.incarnation);
    }
    return { record, chunks: this.#chunks, omap: this.#omap, garbage };
  }

  #create(): void {
    this.#record = {
      size: 0,
      mtime: Date.now(),
      version: 0,
      incarnation: crypto.randomUUID(),
      dataGen: 0,
    };
    this.#chunks = new Map();
    this.#omap = new Map();
    this.#omapCleared = false;
  }

  #ensure(): ObjectRecord {
    if (this.#record === undefined) this.#create();
    return this.#record!;
  }

  /** The live generation's chunk `idx`: as the list left it, else as stored. */
  async #chunk(idx: number): Promise<Uint8Array | undefined> {
    const r = this.#record;
    if (r === undefined || idx * this.#chunkBytes >= r.size) return undefined;
    const edited = this.#chunks.get(idx);
    if (edited !== undefined) return edited ?? undefined;
    const c = this.#committed;
    // Only the committed generation has chunks in the store.
    if (c === undefined || c.incarnation !== r.incarnation || c.dataGen !== r.dataGen) {
      return undefined;
    }
    return await this.#source.chunk(r.incarnation, r.dataGen, idx);
  }

  /**
   * The live generation's chunks from index `from` to `to` (exclusive) that
   * hold bytes, as the list left them, by index: a scan of the stored ones,
   * never a read per index (a sparse object may span a million chunks).
   */
  async #chunksIn(from: number, to: number): Promise<Map<number, Uint8Array>> {
    const r = this.#record;
    const out = new Map<number, Uint8Array>();
    if (r === undefined) return out;
    to = Math.min(to, Math.ceil(r.size / this.#chunkBytes));
    if (to <= from) return out;
    const c = this.#committed;
    if (c !== undefined && c.incarnation === r.incarnation && c.dataGen === r.dataGen) {
      for (const [idx, b] of await this.#source.chunks(r.incarnation, r.dataGen, from, to)) {
        out.set(idx, b);
      }
    }
    for (const [idx, b] of this.#chunks) {
      if (idx < from || idx >= to) continue;
      if (b === null) out.delete(idx);
      else out.set(idx, b);
    }
    return new Map([...out].sort((a, b) => a[0] - b[0]));
  }

  async #write(data: Uint8Array, offset: number, i: number): Promise<void> {
    const r = this.#ensure();
    const end = offset + data.length;
    if (end > MAX_OBJECT_BYTES) {
      throw opError(
        "invalid",
        i,
        `a write to byte ${end} passes the ${MAX_OBJECT_BYTES}-byte limit`,
      );
    }
    const c = this.#chunkBytes;
    for (let idx = Math.floor(offset / c); idx * c < end; idx++) {
      const start = idx * c;
      const from = Math.max(offset, start);
      const to = Math.min(end, start + c);
      if (from === start && to === start + c) {
        this.#chunks.set(idx, data.subarray(from - offset, to - offset));
        continue;
      }
      const old = await this.#chunk(idx);
      const out = new Uint8Array(Math.max(old?.length ?? 0, to - start));
      if (old !== undefined) out.set(old);
      out.set(data.subarray(from - offset, to - offset), from - start);
      this.#chunks.set(idx, out);
    }
    if (end > r.size) this.#record = { ...r, size: end };
    this.#bounded(i);
  }

  async #truncate(size: number, i: number): Promise<void> {
    const r = this.#record!;
    if (size >= r.size) {
      this.#record = { ...r, size };
      return;
    }
    const c = this.#chunkBytes;
    const keep = Math.ceil(size / c);
    const dropped = await this.#chunksIn(keep, Math.ceil(r.size / c));
    // The last chunk kept is cut at the new size: extending again reads zeros.
    const last = keep > 0 && size % c !== 0
      ? (await this.#chunksIn(keep - 1, keep)).get(keep - 1)
      : undefined;
    if (dropped.size > MAX_CHANGES / 2) {
      // Too many chunks to drop in one commit: the kept ones go to a new
      // generation and the old one is deleted after the commit.
      const kept = await this.#chunksIn(0, keep);
      if (kept.size > MAX_CHANGES / 2) {
        throw new PayloadTooLargeError(
          `Op ${i} of the list failed: a truncate from ${r.size} to ${size} bytes keeps ${kept.size} chunks and drops ${dropped.size}; truncate in steps`,
          { fields: { op: i, keep: kept.size, drop: dropped.size } },
        );
      }
      this.#record = { ...r, size, dataGen: r.dataGen + 1 };
      this.#chunks = new Map(kept);
    } else {
      for (const idx of dropped.keys()) this.#chunks.set(idx, null);
      this.#record = { ...r, size };
    }
    if (last !== undefined) {
      const cut = last.subarray(0, Math.min(last.length, size - (keep - 1) * c));
      this.#chunks.set(keep - 1, cut.length === 0 ? null : cut);
    }
    this.#bounded(i);
  }

  async #zero(offset: number, length: number, i: number): Promise<void> {
    // RADOS's zero never extends an object.
    const end = Math.min(this.size, offset + length);
    if (end <= offset) return;
    const c = this.#chunkBytes;
    for (const [idx, old] of await this.#chunksIn(Math.floor(offset / c), Math.ceil(end / c))) {
      const start = idx * c;
      const from = Math.max(offset, start);
      const to = Math.min(end, start + c);
      if (from === start && to >= start + old.length) {
        this.#chunks.set(idx, null);
        continue;
      }
      const out = old.slice();
      out.fill(0, from - start, Math.min(to - start, out.length));
      this.#chunks.set(idx, out);
    }
    this.#bounded(i);
  }

  #bounded(i: number): void {
    if (this.#chunks.size + this.#omap.size > MAX_CHANGES) {
      throw new PayloadTooLargeError(
        `Op ${i} of the list failed: the list changes more than ${MAX_CHANGES} chunks and omap keys (chunks of ${this.#chunkBytes} bytes); split it`,
        { fields: { op: i, limit: MAX_CHANGES } },
      );
    }
  }
}
