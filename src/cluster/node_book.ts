/**
 * A name server's view of its runtimes: the live leases in the registry,
 * and the nodes seen before whose lease lapsed (down).
 *
 * @module
 */

import type { Registry } from "../registry/registry.ts";
import type { NodeInput, NodeRecord, NodeTier } from "../registry/records.ts";
import { log, metrics } from "../observe/mod.ts";

/** A node as `GET /v1/nodes` shows it. */
export interface NodeView {
  /** Node name. */
  readonly id: string;
  /** Where its HTTP API answers. */
  readonly url: string;
  /** Where its data plane listens, when it has one. */
  readonly wire?: string;
  /** `up` while its lease runs, `down` once it lapsed. */
  readonly state: "up" | "down";
  /** When its lease ends (or ended), ms since the epoch. */
  readonly leaseUntil: number;
  /** Its tiers, as it registered them. */
  readonly tiers: NodeRecord["tiers"];
}

/**
 * Registers and renews node leases in the registry and remembers every node
 * seen, so a node whose lease lapsed is listed as down rather than
 * forgotten (until the name server restarts).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { NodeBook } from "./node_book.ts";
 * import { openRegistry } from "../registry/registry.ts";
 * await using registry = await openRegistry({ path: ":memory:" });
 * const book = new NodeBook(registry);
 * await book.register({ id: "a", url: "http://127.0.0.1:1", tiers: [] }, 60_000);
 * assert.deepEqual((await book.list()).map((n) => [n.id, n.state]), [["a", "up"]]);
 * ```
 */
export class NodeBook {
  readonly #registry: Registry;
  readonly #seen = new Map<string, NodeRecord>();
  /** The nodes seen down, so each lapse is logged and counted once. */
  readonly #down = new Set<string>();

  /** Creates a book over a registry. */
  constructor(registry: Registry) {
    this.#registry = registry;
  }

  /** Registers (or re-registers) a node with a lease of `leaseMs`. */
  async register(node: NodeInput, leaseMs?: number): Promise<NodeRecord> {
    const r = await this.#registry.registerNode(node, leaseMs === undefined ? {} : { leaseMs });
    this.#seen.set(r.id, r);
    return r;
  }

  /** Extends a lease (recording the tiers' usage when given); `NotFoundError` once it lapsed (register again). */
  async renew(id: string, leaseMs?: number, tiers?: readonly NodeTier[]): Promise<NodeRecord> {
    const r = await this.#registry.renewNode(id, {
      ...(leaseMs === undefined ? {} : { leaseMs }),
      ...(tiers === undefined ? {} : { tiers }),
    });
    this.#seen.set(r.id, r);
    return r;
  }

  /**
   * Live nodes, then the nodes seen whose lease lapsed, by id. A lapse
   * found here is logged (`lease lapsed`) and counted once.
   */
  async list(): Promise<NodeView[]> {
    const live = await this.#registry.listNodes();
    const up = new Set(live.map((n) => n.id));
    for (const n of live) {
      this.#seen.set(n.id, n);
      this.#down.delete(n.id);
    }
    for (const n of this.#seen.values()) {
      if (up.has(n.id) || this.#down.has(n.id)) continue;
      this.#down.add(n.id);
      metrics.leaseLapses.inc();
      log.warn("lease lapsed", {
        node: n.id,
        url: n.url,
        leaseUntil: new Date(n.leaseUntil).toISOString(),
      });
    }
    const out: NodeView[] = [];
    for (const n of [...this.#seen.values()].sort((a, b) => (a.id < b.id ? -1 : 1))) {
      out.push({
        id: n.id,
        url: n.url,
        ...(n.wire === undefined ? {} : { wire: n.wire }),
        state: up.has(n.id) ? "up" : "down",
        leaseUntil: n.leaseUntil,
        tiers: n.tiers,
      });
    }
    return out;
  }
}
