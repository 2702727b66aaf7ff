/**
 * The tier interface: a named store of fragment copies with a capacity.
 *
 * @module
 */

/** What a tier holds and how fast it is, for placement and `GET /v1/nodes`. */
export interface TierInfo {
  /** Tier name from config, such as `memory` or `file`. */
  readonly name: string;
  /** Kind of store. */
  readonly kind: "memory" | "file";
  /** Capacity in bytes. */
  readonly capacity: number;
  /** Bytes held. */
  readonly used: number;
  /** Copies held. */
  readonly count: number;
  /** Whether copies survive a restart of the runtime. */
  readonly persistent: boolean;
}

/**
 * A store of byte copies under string keys. Implementations enforce their
 * capacity (a `TierFullError`, never a silent drop) and keep a copy until it
 * is deleted.
 */
export interface Tier {
  /** Name from config. */
  readonly name: string;
  /** Stores a copy; replaces an existing copy under the same key. */
  put(key: string, bytes: Uint8Array): Promise<void>;
  /** The copy under `key`, or undefined when the tier does not hold it. */
  get(key: string): Promise<Uint8Array | undefined>;
  /** Removes a copy; returns whether it was held. */
  delete(key: string): Promise<boolean>;
  /** Whether the tier holds `key`. */
  has(key: string): Promise<boolean>;
  /** Capacity and usage. */
  info(): TierInfo;
}
