/**
 * Dataset records written in packs: the records of datasets created while
 * the group committer is busy share one KV row (`["dataset_packs", id]`)
 * where each used to take its own (`["datasets", name]`). Deno KV writes
 * rows at a bounded rate whatever their size: a record alone cost a create
 * about 10 µs of the server's thread in KV's call and 15 µs of KV's writer
 * thread, and a pack of dozens costs about what one row does
 * (bench/registry_wrk_bench.ts, creates one and 100 per request).
 *
 * A dataset's own row wins over a pack's record of the same creation or an
 * earlier one: a deletion marks that row (`deleting`), and its last atomic
 * deletes the row and takes the name out of its pack (the pack written
 * again without it, or deleted once empty).
 *
 * @module
 */

import { datasetRecordBytes } from "./_record_bytes.ts";
import { ConflictError } from "../errors.ts";
import type { Mutation } from "./group_commit.ts";
import type { DatasetEntry, RegistryState } from "./_state.ts";
import { KEYS } from "./keys.ts";
import type { StoredDatasetPack } from "./records.ts";

/**
 * Most estimated bytes of records in one pack (`datasetRecordBytes`, more
 * than Deno KV's encoding of them): well within the 64 KiB a KV
 * value may hold, and small enough to write again at a deletion.
 */
export const DATASET_PACK_BYTES = 24 * 1024;

interface Waiting {
  readonly entry: DatasetEntry;
  readonly bytes: number;
  readonly done: PromiseWithResolvers<void>;
}

/**
 * Writes the records of new datasets: those created while the committer is
 * busy together, in packs; one alone under its own key.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RegistryState } from "./_state.ts";
 * import { DatasetPacks } from "./_dataset_packs.ts";
 * using state = new RegistryState(await Deno.openKv(":memory:"));
 * const packs = new DatasetPacks(state);
 * const entry = (name: string) => state.entry({
 *   name, description: "dataset { var x [4]float64 }", retention: 2, durable: false,
 *   overwrite: false, sizes: {}, createdAt: state.nextCreatedAt(),
 * });
 * const [a, b] = [entry("a"), entry("b")];
 * await Promise.all([packs.write(a), packs.write(b)]);
 * assert.equal(a.pack, b.pack);
 * assert.deepEqual(packs.removal("a", a.pack), [{
 *   type: "set", key: ["dataset_packs", 1], value: { datasets: [b.record] },
 * }]);
 * assert.deepEqual(packs.removal("b", b.pack), [{ type: "delete", key: ["dataset_packs", 1] }]);
 * assert.deepEqual(packs.removal("b", b.pack), []);
 * ```
 */
export class DatasetPacks {
  readonly #s: RegistryState;
  #waiting: Waiting[] = [];

  /** Packs over `state` (its `datasetPacks` and `lastDatasetPack`). */
  constructor(state: RegistryState) {
    this.#s = state;
  }

  /**
   * Writes the record of a new dataset; resolves once it is durable, with
   * `entry.pack` set when it went in a pack. Records written together in a
   * pack either all commit or all fail.
   */
  write(entry: DatasetEntry): Promise<void> {
    const s = this.#s;
    // Without group commit (a comparison), every record goes alone.
    if (!s.writes.grouping) return this.#alone(entry);
    const done = Promise.withResolvers<void>();
    // The first waiting record asks for the committer's next group: until
    // then (an atomic in flight, or the rest of this turn) others join it.
    if (this.#waiting.length === 0) s.writes.beforeTake(() => this.#send());
    this.#waiting.push({ entry, bytes: datasetRecordBytes(entry.record), done });
    return done.promise;
  }

  /**
   * The mutations that take `name` out of the packs holding it (none when
   * none does): pack `id` (its dataset's `pack`), and older ones a failed
   * deletion left it in; every pack is looked at when `id` is not known (a
   * deletion a crash interrupted, finished at load). Each pack is written
   * again with its other records, or deleted once it holds no other. Call
   * it right before writing them: later removals from the same pack,
   * written after, start from this one's outcome.
   */
  removal(name: string, id: number | undefined): Mutation[] {
    const s = this.#s;
    const stale = s.stalePacks.get(name);
    s.stalePacks.delete(name);
    const ids = id === undefined ? [...s.datasetPacks.keys()] : [id, ...(stale ?? [])];
    const out: Mutation[] = [];
    for (const pack of ids) {
      const members = s.datasetPacks.get(pack);
      if (members === undefined || !members.delete(name)) continue;
      const key = KEYS.datasetPack(pack);
      if (members.size === 0) {
        s.datasetPacks.delete(pack);
        out.push({ type: "delete", key });
      } else {
        const value: StoredDatasetPack = { datasets: [...members.values()] };
        out.push({ type: "set", key, value });
      }
    }
    return out;
  }

  /** Writes the waiting records: one alone, several in packs. */
  #send(): void {
    const list = this.#waiting;
    this.#waiting = [];
    if (list.length === 1) {
      const { entry, done } = list[0]!;
      this.#alone(entry).then(done.resolve, done.reject);
      return;
    }
    let pack: Waiting[] = [];
    let bytes = 0;
    for (const w of list) {
      if (pack.length > 0 && bytes + w.bytes > DATASET_PACK_BYTES) {
        this.#pack(pack, bytes);
        pack = [];
        bytes = 0;
      }
      pack.push(w);
      bytes += w.bytes;
    }
    this.#pack(pack, bytes);
  }

  async #alone(entry: DatasetEntry): Promise<void> {
    const { record } = entry;
    await this.#s.writes.write([{ type: "set", key: KEYS.dataset(record.name), value: record }]);
  }

  async #pack(pack: readonly Waiting[], bytes: number): Promise<void> {
    const s = this.#s;
    const id = ++s.lastDatasetPack;
    const key = KEYS.datasetPack(id);
    const value: StoredDatasetPack = { datasets: pack.map((w) => w.entry.record) };
    const keyBytes = 24;
    try {
      // Put if absent: ids rise per process; a second process writing this
      // store could pick the same one.
      const { ok } = await s.writes.write([{ type: "set", key, value }], [{
        key,
        versionstamp: null,
      }], { bytes: bytes + keyBytes + 64, keyBytes });
      if (!ok) {
        throw new ConflictError(
          `Cannot register datasets ${
            pack.map((w) => `'${w.entry.record.name}'`).join(", ")
          }: their key ${
            JSON.stringify(key)
          } is taken, another process writes this registry's store`,
        );
      }
    } catch (e) {
      for (const w of pack) w.done.reject(e);
      return;
    }
    s.datasetPacks.set(id, new Map(pack.map((w) => [w.entry.record.name, w.entry.record])));
    for (const w of pack) {
      w.entry.pack = id;
      w.done.resolve();
    }
  }
}

/**
 * Loads a stored pack's membership into `state` (a deletion takes its name
 * out); the caller makes entries of the records that have no row of their
 * own.
 */
export function loadDatasetPack(state: RegistryState, id: number, pack: StoredDatasetPack): void {
  state.lastDatasetPack = Math.max(state.lastDatasetPack, id);
  state.datasetPacks.set(id, new Map(pack.datasets.map((r) => [r.name, r])));
}
