/**
 * The tier interface: a named store of fragment copies with a capacity.
 *
 * @module
 */

/** Kinds of tier store: process memory, files under /dev/shm, a local directory, the backing store. */
export type TierKind = "memory" | "shm" | "file" | "backing";

/** Every tier kind, fastest first as they are usually declared. */
export const TIER_KINDS: readonly TierKind[] = ["memory", "shm", "file", "backing"];

/** What a tier holds, for placement and `GET /v1/nodes`. */
export interface TierInfo {
  /** Tier name from config, such as `memory` or `file`. */
  readonly name: string;
  /** Kind of store. */
  readonly kind: TierKind;
  /** Capacity in bytes. */
  readonly capacity: number;
  /** Bytes held (including writes under way). */
  readonly used: number;
  /** Copies held. */
  readonly count: number;
  /** Whether copies survive a restart of the runtime. */
  readonly persistent: boolean;
}

/** One copy a tier holds. */
export interface TierEntry {
  /** Its key. */
  readonly key: string;
  /** Its size in bytes. */
  readonly byteLength: number;
}

/**
 * A file of the node holding a copy's bytes (a publish staged in an shm
 * tier), stored without reading it into the process: copied by the kernel,
 * or moved (renamed) into the tier whose directory holds it.
 */
export interface StagedFile {
  /** Its path. */
  readonly path: string;
  /** The copy's size; a file of another size is refused. */
  readonly byteLength: number;
  /** The tier whose directory holds the file, which may take it by renaming it. */
  readonly tier?: string;
}

/**
 * A store of byte copies under string keys. Implementations enforce their
 * capacity (a `TierFullError`, never a silent drop), reserve the bytes of a
 * `put` before its first await (so two concurrent puts cannot both take the
 * last free bytes), and keep a copy until it is deleted.
 */
export interface Tier {
  /** Name from config. */
  readonly name: string;
  /** Stores a copy; replaces an existing copy under the same key. */
  put(key: string, bytes: Uint8Array): Promise<void>;
  /**
   * Stores the copy a file holds, as `put` stores bytes (optional: a tier
   * without it is given the file's bytes). With `move`, the file is renamed
   * into place and is gone from `file.path`.
   */
  putFile?(key: string, file: StagedFile, options: { readonly move: boolean }): Promise<void>;
  /**
   * The file that holds the copy under `key` (optional: tiers that keep
   * copies in files, which other processes of the node may map and a flush
   * may copy file to file).
   */
  pathOf?(key: string): string;
  /** The copy under `key`, or undefined when the tier does not hold it. */
  get(key: string): Promise<Uint8Array | undefined>;
  /**
   * Reads byte runs (`[offset, length]`) of the copy under `key` into `into`
   * at the same offsets less `base` (default 0: byte `offset` of the copy
   * lands at `into[offset - base]`), leaving its other bytes as they are; false when the
   * tier does not hold it (optional: tiers that keep copies in files, where
   * reading part of a copy costs less than reading all of it). The reads may
   * hold the event loop: callers pass a MiB or so of runs at a time.
   */
  getRanges?(
    key: string,
    runs: readonly (readonly [number, number])[],
    into: Uint8Array,
    base?: number,
  ): Promise<boolean>;
  /** Removes a copy; returns whether it was held. */
  delete(key: string): Promise<boolean>;
  /** Whether the tier holds `key`. */
  has(key: string): Promise<boolean>;
  /** The copies held, for indexing them after a restart. */
  list(): TierEntry[];
  /** Capacity and usage. */
  info(): TierInfo;
}
