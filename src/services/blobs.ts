/**
 * A service's blobs: byte strings of any size kept in the node's tiers
 * (placed by the placement policy, spilled down the tiers when one is full,
 * flushed to the backing tier), each checksummed.
 *
 * A blob's tier key (`svc~<service>~<id>`) is not a fragment copy key, so
 * the runtime's reconcile and move notices pass it by: blobs are named by
 * their service's KV records alone.
 *
 * @module
 */

import { crc32 } from "node:zlib";
import { ChecksumError, LostError, NotFoundError } from "../errors.ts";
import { checksum, checksumFile, pieceChecksums } from "../runtime/checksum.ts";
import {
  badPiece,
  PIECE_BYTES,
  PIECED_MIN_BYTES,
  PieceSums,
  rangeMarks,
  readPieces,
} from "../runtime/piece_sums.ts";
import { type MapGrant, nodeLeases } from "../runtime/map_leases.ts";
import { blobKey } from "../tiers/copy_keys.ts";
import { metrics } from "../observe/mod.ts";
import type { PlacedFragment } from "../tiers/policy.ts";
import type { StagedFile } from "../tiers/tier.ts";
import type { TierSet } from "../tiers/tier_set.ts";

/**
 * Bytes of its buffer beyond a view that a blob may keep alive: 1/64 of
 * the view, at least 4 KiB (a frame's header and its framing).
 */
function spareBytes(byteLength: number): number {
  return Math.max(4096, byteLength >> 6);
}

/** What a service keeps to find a blob again. */
export interface BlobRef {
  /** Its identity within the service. */
  readonly id: string;
  /** Its size in bytes. */
  readonly size: number;
  /** CRC-32 of its bytes. */
  readonly crc: number;
  /** The node whose tiers hold it (absent: this one). */
  readonly node?: string;
}

/**
 * Fetches a blob that another node keeps, over the data plane, checked
 * against its CRC-32 (`Runtime.fetchBlob`); `UnavailableError` naming the
 * node when it is down.
 */
export type FetchBlob = (
  node: string,
  blob: { service: string; id: string; byteLength: number; checksum: number },
) => Promise<Uint8Array>;

/** A byte range of a blob. */
export interface ByteRange {
  /** First byte. */
  readonly offset: number;
  /** Bytes wanted (default: to the end). */
  readonly length?: number;
}

/** Options of a blob store. */
export interface BlobStoreOptions {
  /** Whether a copy must be on a persistent tier before `put` returns (default true). */
  readonly durable?: boolean;
  /** Reads blobs other nodes hold; without it, only this node's blobs are read. */
  readonly fetch?: FetchBlob;
}

/**
 * The blobs of one service over a node's tier set.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { KIND_DEFAULTS, MemoryTier, TierSet } from "../tiers/mod.ts";
 * import { BlobStore } from "./blobs.ts";
 * const spec = { name: "mem", kind: "memory", capacity: 1 << 20, ...KIND_DEFAULTS.memory } as const;
 * const tiers = new TierSet({ node: "n", tiers: [{ tier: new MemoryTier("mem", 1 << 20), spec }] });
 * const blobs = new BlobStore("notes", tiers, { durable: false });
 * const ref = await blobs.put(new Uint8Array([1, 2, 3, 4]));
 * assert.deepEqual(await blobs.get(ref, { offset: 1, length: 2 }), new Uint8Array([2, 3]));
 * await blobs.delete(ref);
 * ```
 */
export class BlobStore {
  /** The service the blobs belong to. */
  readonly service: string;
  readonly #tiers: TierSet;
  readonly #durable: boolean;
  readonly #fetch: FetchBlob | undefined;
  /** Checksums of the pieces of blobs, for ranges read from files (`get`). */
  readonly #sums = new PieceSums();
  /** Whole reads under way, by CRC-32 and tier key (`#getLocal`). */
  readonly #reads = new Map<string, Promise<Uint8Array>>();

  /** Creates the store of `service`'s blobs. */
  constructor(service: string, tiers: TierSet, options: BlobStoreOptions = {}) {
    this.service = service;
    this.#tiers = tiers;
    this.#durable = options.durable ?? true;
    this.#fetch = options.fetch;
  }

  /** The node whose tiers this store writes to. */
  get node(): string {
    return this.#tiers.node;
  }

  /**
   * Stores `bytes` where the placement policy says; resolves once every
   * chosen tier holds them, a persistent one among them for a durable
   * store. They must not change afterwards: a memory tier keeps them as
   * they are (a view of a much larger buffer is copied first).
   */
  async put(bytes: Uint8Array): Promise<BlobRef> {
    // A view of a much larger buffer (a product in a batched request's
    // body) would keep the whole buffer alive in a memory tier that counts
    // only the view's bytes: store a copy of its own instead. A view of
    // nearly all of its buffer (the one product of a request after its
    // frame's header, or a pack of a request's products) is kept as it is:
    // a request body is read into a buffer of its own length
    // (api/body.ts), and copying it would fault in as much fresh memory
    // again, about 1 ms a MiB on this machine (bench/services_bench.ts).
    if (bytes.buffer.byteLength - bytes.byteLength > spareBytes(bytes.byteLength)) {
      bytes = bytes.slice();
    }
    const id = crypto.randomUUID();
    // The CRC-32 (computed in pieces, the event loop served between them)
    // runs while the tiers store the bytes.
    const [crc, pieces] = await Promise.all([
      checksum(bytes),
      // For ranges read from a file later (a spilled or file-placed blob): about 30 µs a MiB.
      bytes.byteLength >= PIECED_MIN_BYTES ? pieceChecksums(bytes, PIECE_BYTES) : undefined,
      this.#tiers.store(this.#key(id), bytes, this.#placed(id, bytes.byteLength)),
    ]);
    if (pieces !== undefined) this.#sums.set(`${crc}:${this.#key(id)}`, pieces);
    return { id, size: bytes.byteLength, crc, node: this.#tiers.node };
  }

  /**
   * Stores the bytes a file of the node holds (a staged request body), as
   * `put` stores bytes, without reading them into this process: the tiers
   * copy the file by the kernel or, on the file's own tier, take it by
   * renaming it; its CRC-32 is read from the file meanwhile. A file of
   * another size than `file.byteLength` is a `SizeMismatchError`.
   */
  async putFile(file: StagedFile): Promise<BlobRef> {
    const id = crypto.randomUUID();
    // Opened before the tiers may move it: the CRC-32 reads the file they store.
    using f = await Deno.open(file.path);
    // The same reads give the checksums of its pieces, for ranges read later.
    const pieces = file.byteLength >= PIECED_MIN_BYTES
      ? new Uint32Array(Math.ceil(file.byteLength / PIECE_BYTES))
      : undefined;
    const [crc] = await Promise.all([
      checksumFile(f, file.byteLength, `blob of service '${this.service}'`, {
        ...(pieces === undefined ? {} : { pieces, pieceBytes: PIECE_BYTES }),
      }),
      this.#tiers.storeFile(this.#key(id), file, this.#placed(id, file.byteLength)),
    ]);
    if (pieces !== undefined) this.#sums.set(`${crc}:${this.#key(id)}`, pieces);
    return { id, size: file.byteLength, crc, node: this.#tiers.node };
  }

  /**
   * The bytes of `ref` (a range of them with `range`), checked against its
   * size, and against its CRC-32 when read from a tier outside memory (a
   * file, a device, another node): bytes in memory are those checksummed
   * when stored, so each read of them skips the 1 MiB CRC-32 that made
   * loads of large products slow (bench/services_bench.ts). `LostError` when no tier holds it, `ChecksumError` when
   * the bytes do not match, `NotFoundError` for a range past its end.
   */
  async get(ref: BlobRef, range?: ByteRange): Promise<Uint8Array> {
    if (range === undefined) {
      return this.#remote(ref) ? await this.#fetchRemote(ref) : await this.#getLocal(ref);
    }
    const end = range.length === undefined ? ref.size : range.offset + range.length;
    if (range.offset < 0 || end > ref.size || end < range.offset) {
      throw new NotFoundError(
        `Blob range ${range.offset}..${end} is outside its ${ref.size} bytes`,
        { fields: { blob: ref.id, offset: range.offset, end, size: ref.size } },
      );
    }
    if (!this.#remote(ref)) {
      const part = await this.#getPieces(ref, range.offset, end);
      if (part !== undefined) return part;
    }
    const bytes = this.#remote(ref) ? await this.#fetchRemote(ref) : await this.#getLocal(ref);
    return bytes.subarray(range.offset, end);
  }

  /**
   * Bytes `offset` to `end` of a blob kept in a file, from the pieces holding
   * them read and checked alone, when they are at most half of it and their
   * checksums are known; undefined otherwise (read it whole).
   */
  async #getPieces(ref: BlobRef, offset: number, end: number): Promise<Uint8Array | undefined> {
    const key = this.#key(ref.id);
    const table = this.#sums.get(`${ref.crc}:${key}`);
    if (table === undefined || !this.#tiers.readsRanges(key)) return undefined;
    const { marks, count } = rangeMarks(ref.size, offset, end);
    if (2 * count > marks.length) return undefined;
    // Only the span of the pieces holding the range, read into a buffer of its own.
    const from = Math.floor(offset / PIECE_BYTES) * PIECE_BYTES;
    const to = Math.min(ref.size, Math.ceil(end / PIECE_BYTES) * PIECE_BYTES);
    const read = await readPieces(this.#tiers, key, table, ref.size, marks, { from, to });
    if (read === undefined) return undefined;
    metrics.piecedReads.inc();
    if (read.bad !== undefined) {
      const at = read.bad * PIECE_BYTES;
      const found = crc32(read.bytes.subarray(at - from, at - from + PIECE_BYTES));
      throw new ChecksumError(key, table[read.bad]!, found, {
        message: `Checksum mismatch for '${key}': ${badPiece(read.bad)}`,
      });
    }
    return read.bytes.subarray(offset - from, end - from);
  }

  /**
   * Removes the blob from every tier of this node. A blob another node
   * holds is left there (its bytes stay until that node's tiers drop them);
   * services route the writes of a target to its runtime, so the blobs they
   * replace are that runtime's own.
   */
  async delete(ref: BlobRef): Promise<void> {
    if (!this.#remote(ref)) await this.#tiers.delete(this.#key(ref.id));
  }

  #remote(ref: BlobRef): boolean {
    return ref.node !== undefined && ref.node !== this.#tiers.node;
  }

  /**
   * The whole blob from this node's tiers. Reads of one blob under way at
   * once share one read and one check (the values of a pack loaded
   * together read their pack once); a blob of `PIECED_MIN_BYTES` or more
   * read whole from a file keeps its pieces' checksums, so later ranges of
   * it read only their pieces.
   */
  #getLocal(ref: BlobRef): Promise<Uint8Array> {
    const key = `${ref.crc}:${this.#key(ref.id)}`;
    const under = this.#reads.get(key);
    if (under !== undefined) return under;
    const read = this.#readLocal(ref).finally(() => this.#reads.delete(key));
    this.#reads.set(key, read);
    return read;
  }

  async #readLocal(ref: BlobRef): Promise<Uint8Array> {
    const key = this.#key(ref.id);
    const found = await this.#tiers.get(key);
    if (found === undefined) {
      throw new LostError(`~${this.service}`, 0, ref.id, "is held by no tier");
    }
    if (found.bytes.byteLength !== ref.size) {
      throw new ChecksumError(key, ref.crc, await checksum(found.bytes));
    }
    if (this.#inMemory(found.tier)) return found.bytes;
    const crc = await checksum(found.bytes);
    if (crc !== ref.crc) throw new ChecksumError(key, ref.crc, crc);
    if (ref.size >= PIECED_MIN_BYTES && this.#sums.get(`${crc}:${key}`) === undefined) {
      this.#sums.set(`${crc}:${key}`, await pieceChecksums(found.bytes, PIECE_BYTES));
    }
    return found.bytes;
  }

  #inMemory(tier: string): boolean {
    return this.#tiers.specs.find((s) => s.name === tier)?.kind === "memory";
  }

  #fetchRemote(ref: BlobRef): Promise<Uint8Array> {
    if (this.#fetch === undefined) {
      throw new LostError(
        `~${this.service}`,
        0,
        ref.id,
        `is on node '${ref.node}', which this store cannot reach`,
      );
    }
    // The data plane checks the bytes against the CRC-32 as they arrive.
    return this.#fetch(ref.node!, {
      service: this.service,
      id: ref.id,
      byteLength: ref.size,
      checksum: ref.crc,
    });
  }

  /**
   * Leases the file holding the blob on this node's shm tier, for a process
   * of the node to read in place (`nodeLeases`: the file stays whole and
   * unchanged until the lease is released, `DELETE /v1/leases/<lease>`, or
   * expires); undefined when no shm tier of this node holds it. The bytes
   * read that way are not checked against the CRC-32.
   */
  lease(ref: BlobRef, options: { readonly ttlMs?: number } = {}): Promise<MapGrant | undefined> {
    if (this.#remote(ref)) return Promise.resolve(undefined);
    return nodeLeases(this.#tiers).grant(this.#key(ref.id), ref.size, options);
  }

  /**
   * Ends a lease `lease` granted (as `DELETE /v1/leases/<lease>` does);
   * false when it had ended already.
   */
  releaseLease(lease: string): Promise<boolean> {
    return nodeLeases(this.#tiers).release(lease);
  }

  /**
   * Copies the blob to tier `tier` as well (a flush to the backing tier);
   * false when that tier held it already.
   */
  flush(ref: BlobRef, tier: string): Promise<boolean> {
    return this.#tiers.copyTo(this.#key(ref.id), tier, this.#placed(ref.id, ref.size));
  }

  /** The ids of the service's blobs this node's tiers hold now. */
  heldIds(): string[] {
    const prefix = this.#key("");
    return this.#tiers.keys(prefix).map((k) => k.slice(prefix.length));
  }

  /** Removes blob `id` from every tier of this node (a blob no record names). */
  deleteId(id: string): Promise<void> {
    return this.#tiers.delete(this.#key(id));
  }

  /** The tiers holding the blob, fastest first. */
  tiersOf(ref: BlobRef): string[] {
    return this.#tiers.tiersOf(this.#key(ref.id));
  }

  #key(id: string): string {
    return blobKey(this.service, id);
  }

  #placed(id: string, byteLength: number): PlacedFragment {
    return {
      dataset: `~${this.service}`,
      version: 0,
      fragment: id,
      bindings: {},
      byteLength,
      durable: this.#durable,
      consumers: [],
    };
  }
}
