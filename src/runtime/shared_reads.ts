/**
 * Reads of one copy shared by the readers that ask for it while it is under
 * way. Readers of 2-D blocks of a field stored as row bands each need a part
 * of the same bands at the same moment: without sharing, each read a whole
 * band from its tier into a fresh buffer and checksummed it, so a restart of
 * 16 blocks read every band four times (bench/restart_bench.ts). The bytes
 * handed out are shared: readers only read them.
 *
 * @module
 */

import { checksum } from "./checksum.ts";

/** A read under way, and its checksum once a reader asked for it. */
interface Flight {
  readonly bytes: Promise<Uint8Array | undefined>;
  sum?: Promise<number>;
}

/** Bytes read, with their CRC-32. */
export interface CheckedBytes {
  readonly bytes: Uint8Array;
  /** The CRC-32 of `bytes`, computed once for every reader that shared the read. */
  readonly sum: number;
}

/**
 * Shares reads (and their CRC-32) by an id among the callers that ask while
 * one is under way; a read that has settled is forgotten, so a later caller
 * reads afresh and sees what is stored then.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { crc32 } from "node:zlib";
 * import { SharedReads } from "./shared_reads.ts";
 * let reads = 0;
 * const load = async () => (reads++, new Uint8Array([1, 2, 3]));
 * const shared = new SharedReads();
 * const [a, b] = await Promise.all([
 *   shared.checked("copy", load),
 *   shared.checked("copy", load),
 * ]);
 * assert.equal(reads, 1);
 * assert.equal(a!.bytes, b!.bytes);
 * assert.equal(a!.sum, crc32(new Uint8Array([1, 2, 3])));
 * await shared.read("copy", load);
 * assert.equal(reads, 2);
 * ```
 */
export class SharedReads {
  readonly #flights = new Map<string, Flight>();

  /** Reads under way. */
  get size(): number {
    return this.#flights.size;
  }

  /** The bytes `load` gives for `id`, from the read under way when there is one. */
  read(id: string, load: () => Promise<Uint8Array | undefined>): Promise<Uint8Array | undefined> {
    return this.#join(id, load).bytes;
  }

  /**
   * The bytes `load` gives for `id` and their CRC-32, both shared with the
   * callers that asked meanwhile.
   */
  async checked(
    id: string,
    load: () => Promise<Uint8Array | undefined>,
  ): Promise<CheckedBytes | undefined> {
    const flight = this.#join(id, load);
    if (flight.sum === undefined) {
      const sum = flight.sum = flight.bytes.then((b) => b === undefined ? 0 : checksum(b));
      // The flight ends with its checksum: callers arriving meanwhile share it too.
      sum.then(() => this.#end(id, flight), () => this.#end(id, flight));
    }
    const bytes = await flight.bytes;
    if (bytes === undefined) return undefined;
    return { bytes, sum: await flight.sum };
  }

  #join(id: string, load: () => Promise<Uint8Array | undefined>): Flight {
    const under = this.#flights.get(id);
    if (under !== undefined) return under;
    const flight: Flight = { bytes: load() };
    this.#flights.set(id, flight);
    flight.bytes.then(
      () => flight.sum === undefined && this.#end(id, flight),
      () => this.#end(id, flight),
    );
    return flight;
  }

  #end(id: string, flight: Flight): void {
    if (this.#flights.get(id) === flight) this.#flights.delete(id);
  }
}
