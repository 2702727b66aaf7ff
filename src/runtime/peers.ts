/**
 * Where other nodes' data planes listen, from the name server's list of
 * live nodes, cached briefly so an attach does not ask for every copy.
 *
 * @module
 */

import type { Peer } from "../wire/client.ts";
import type { NameService, NodeEntry } from "../name_service/name_service.ts";

/** How long a node list is trusted before it is read again, in ms. */
const FRESH_MS = 1000;

/**
 * Resolves node names to data-plane addresses. A node missing from the name
 * server's live list (its lease lapsed) resolves to `undefined`: it is down.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PeerDirectory } from "./peers.ts";
 * const names = { listNodes: () => Promise.resolve([{ id: "a", url: "http://127.0.0.1:1", wire: "127.0.0.1:2", leaseUntil: Date.now() + 1000 }]) };
 * const peers = new PeerDirectory(names);
 * assert.deepEqual(await peers.peer("a"), { node: "a", hostname: "127.0.0.1", port: 2 });
 * assert.equal(await peers.peer("b"), undefined);
 * ```
 */
export class PeerDirectory {
  readonly #names: Pick<NameService, "listNodes">;
  #peers = new Map<string, Peer>();
  #entries: readonly NodeEntry[] = [];
  #readAt = -Infinity;
  #reading: Promise<void> | undefined;

  /** Creates a directory over the name server's node list. */
  constructor(names: Pick<NameService, "listNodes">) {
    this.#names = names;
  }

  /** The data plane of `node`, or undefined when it is down (or has none). */
  async peer(node: string): Promise<Peer | undefined> {
    const now = Date.now();
    if (!this.#peers.has(node) || now - this.#readAt > FRESH_MS) await this.#refresh();
    return this.#peers.get(node);
  }

  /** Live nodes as the name server last listed them (read again when stale). */
  async nodes(): Promise<readonly NodeEntry[]> {
    if (Date.now() - this.#readAt > FRESH_MS) await this.#refresh();
    return this.#entries;
  }

  /** The live entry of `node`, or undefined when it is down. */
  async entry(node: string): Promise<NodeEntry | undefined> {
    return (await this.nodes()).find((n) => n.id === node);
  }

  /** Drops what is known of `node`: the next `peer()` asks the name server. */
  forget(node: string): void {
    if (this.#peers.delete(node)) this.#readAt = -Infinity;
  }

  #refresh(): Promise<void> {
    // Concurrent attaches share one read of the node list.
    this.#reading ??= (async () => {
      try {
        const next = new Map<string, Peer>();
        const now = Date.now();
        const live = (await this.#names.listNodes()).filter((n) => n.leaseUntil > now);
        this.#entries = live;
        for (const n of live) {
          if (n.wire === undefined) continue;
          const at = n.wire.lastIndexOf(":");
          next.set(n.id, {
            node: n.id,
            hostname: n.wire.slice(0, at),
            port: Number(n.wire.slice(at + 1)),
          });
        }
        this.#peers = next;
        this.#readAt = Date.now();
      } finally {
        this.#reading = undefined;
      }
    })();
    return this.#reading;
  }
}
