/**
 * Release notices for runtimes in other processes: the copies whose bytes a
 * node must free (versions retired, datasets deleted), kept per node until
 * the node has read them.
 *
 * @module
 */

import type { FragmentRecord } from "../runtime/name_service.ts";

/** What `poll()` answers. */
export interface ReleaseBatch {
  /** Identifies this log: a new epoch means the name server restarted. */
  readonly epoch: string;
  /** Read up to here: pass it as `after` next time. */
  readonly seq: number;
  /** Copies the node must free. */
  readonly copies: readonly FragmentRecord[];
  /** Notices past `after` were dropped (the node fell too far behind). */
  readonly gap: boolean;
}

interface NodeLog {
  entries: { seq: number; copy: FragmentRecord }[];
  /** Highest sequence number dropped without being read. */
  dropped: number;
  waiters: Set<() => void>;
}

/**
 * A bounded log of release notices per node. A node polls it with the last
 * sequence number it handled; entries up to that number are dropped, so the
 * log holds only notices not yet read, at most `maxPerNode` of them (older
 * ones are dropped and the next poll says `gap`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ReleaseLog } from "./release_log.ts";
 * const log = new ReleaseLog();
 * const copy = { dataset: "d", version: 1, fragment: "dataset", bindings: {}, node: "a", tier: "memory", byteLength: 8, checksum: 0 };
 * log.push([copy, { ...copy, node: "b" }]);
 * const got = await log.poll("a", 0, 0);
 * assert.deepEqual(got.copies, [copy]);
 * assert.equal((await log.poll("a", got.seq, 0)).copies.length, 0);
 * ```
 */
export class ReleaseLog {
  /** This log's identity. */
  readonly epoch: string = crypto.randomUUID();
  readonly #maxPerNode: number;
  readonly #nodes = new Map<string, NodeLog>();
  #seq = 0;
  #closed = false;

  /** Creates an empty log keeping at most `maxPerNode` unread notices per node (default 100 000). */
  constructor(options: { readonly maxPerNode?: number } = {}) {
    this.#maxPerNode = options.maxPerNode ?? 100_000;
  }

  /**
   * Records copies to free, each for every node that holds it (the primary
   * copy's node and its replicas' nodes), except `skip` (a runtime in the
   * name server's own process, which hears the registry directly).
   */
  push(copies: readonly FragmentRecord[], skip?: string): void {
    const touched = new Set<NodeLog>();
    for (const copy of copies) {
      for (const node of [copy.node, ...(copy.replicas ?? []).map((p) => p.node)]) {
        if (node === skip) continue;
        const log = this.#log(node);
        log.entries.push({ seq: ++this.#seq, copy });
        if (log.entries.length > this.#maxPerNode) {
          const cut = log.entries.splice(0, log.entries.length - this.#maxPerNode);
          log.dropped = cut[cut.length - 1]!.seq;
        }
        touched.add(log);
      }
    }
    for (const log of touched) {
      for (const wake of log.waiters) wake();
      log.waiters.clear();
    }
  }

  /**
   * Notices for `node` after `after`, waiting up to `waitMs` for one when
   * there are none; entries up to `after` are forgotten.
   */
  async poll(
    node: string,
    after: number,
    waitMs: number,
    signal?: AbortSignal,
  ): Promise<ReleaseBatch> {
    const log = this.#log(node);
    log.entries = log.entries.filter((e) => e.seq > after);
    if (log.entries.length === 0 && waitMs > 0 && !signal?.aborted && !this.#closed) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          log.waiters.delete(done);
          signal?.removeEventListener("abort", done);
          resolve();
        };
        const timer = setTimeout(done, waitMs);
        log.waiters.add(done);
        signal?.addEventListener("abort", done);
      });
    }
    const copies = log.entries.map((e) => e.copy);
    const last = log.entries[log.entries.length - 1]?.seq;
    return {
      epoch: this.epoch,
      seq: last ?? Math.max(after, log.dropped),
      copies,
      gap: log.dropped > after,
    };
  }

  /** Ends every wait now (the name server is stopping); later polls do not wait. */
  close(): void {
    this.#closed = true;
    for (const log of this.#nodes.values()) {
      for (const wake of log.waiters) wake();
      log.waiters.clear();
    }
  }

  #log(node: string): NodeLog {
    let log = this.#nodes.get(node);
    if (log === undefined) {
      log = { entries: [], dropped: 0, waiters: new Set() };
      this.#nodes.set(node, log);
    }
    return log;
  }
}
