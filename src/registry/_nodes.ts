/**
 * Node leases: a node's record, with its tiers, expires unless renewed.
 *
 * @module
 */

import { InvalidRequestError, NotFoundError } from "../errors.ts";
import type { RegistryState } from "./_state.ts";
import { KEYS } from "./keys.ts";
import type { NodeInput, NodeRecord, NodeTier } from "./records.ts";
import { checkLabel, checkName, MAX_NODE_TIERS, MAX_URL_LENGTH } from "./validate.ts";

/**
 * The registered nodes and their leases.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RegistryState } from "./_state.ts";
 * import { NodeLeases } from "./_nodes.ts";
 * using state = new RegistryState(await Deno.openKv(":memory:"));
 * const nodes = new NodeLeases(state);
 * await nodes.register({ id: "a", url: "http://127.0.0.1:7071", tiers: [] }, { leaseMs: 5000 });
 * assert.deepEqual((await nodes.list()).map((n) => n.id), ["a"]);
 * ```
 */
export class NodeLeases {
  readonly #s: RegistryState;

  /** Leases kept in `state`. */
  constructor(state: RegistryState) {
    this.#s = state;
  }

  /** Registers a node, or renews it, with a lease; see `Registry.registerNode`. */
  async register(
    node: NodeInput,
    options: { readonly leaseMs?: number } = {},
  ): Promise<NodeRecord> {
    this.#s.checkOpen();
    checkName("node", node.id);
    checkLabel(`url of node '${node.id}'`, node.url, MAX_URL_LENGTH);
    if (node.wire !== undefined) checkLabel(`wire of node '${node.id}'`, node.wire, MAX_URL_LENGTH);
    if (!Array.isArray(node.tiers)) {
      throw new InvalidRequestError(`Invalid node '${node.id}': expected a list of tiers`);
    }
    const leaseMs = this.#leaseOf(options.leaseMs);
    const record: NodeRecord = {
      id: node.id,
      url: node.url,
      tiers: nodeTiers(node.id, node.tiers),
      ...(typeof node.wire === "string" ? { wire: node.wire } : {}),
      leaseUntil: Date.now() + leaseMs,
    };
    await this.#s.writes.write([{
      type: "set",
      key: KEYS.node(node.id),
      value: record,
      expireIn: leaseMs,
    }]);
    return record;
  }

  /** Extends a registered node's lease; see `Registry.renewNode`. */
  async renew(
    id: string,
    options: { readonly leaseMs?: number; readonly tiers?: readonly NodeTier[] } = {},
  ): Promise<NodeRecord> {
    this.#s.checkOpen();
    checkName("node", id);
    const leaseMs = this.#leaseOf(options.leaseMs);
    const tiers = options.tiers === undefined ? undefined : nodeTiers(id, options.tiers);
    const found = await this.#s.kv.get<NodeRecord>(KEYS.node(id));
    if (found.value === null || found.value.leaseUntil <= Date.now()) {
      throw new NotFoundError(`Unknown node '${id}': its lease lapsed, register it again`);
    }
    const record = {
      ...found.value,
      ...(tiers === undefined ? {} : { tiers }),
      leaseUntil: Date.now() + leaseMs,
    };
    await this.#s.writes.write([{
      type: "set",
      key: KEYS.node(id),
      value: record,
      expireIn: leaseMs,
    }]);
    return record;
  }

  /** Nodes whose lease has not lapsed, by id. */
  async list(): Promise<NodeRecord[]> {
    const out: NodeRecord[] = [];
    const now = Date.now();
    for await (const e of this.#s.kv.list<NodeRecord>({ prefix: KEYS.nodes() })) {
      if (e.value.leaseUntil > now) out.push(e.value);
    }
    return out;
  }

  #leaseOf(leaseMs: number | undefined): number {
    const ms = leaseMs ?? this.#s.defaultLeaseMs;
    if (!Number.isSafeInteger(ms) || ms < 1) {
      throw new InvalidRequestError(`Invalid lease ${ms} ms: expected an integer >= 1`);
    }
    return ms;
  }
}

/** A node's tiers as its lease records them, checked. */
function nodeTiers(id: string, tiers: readonly unknown[]): NodeTier[] {
  if (!Array.isArray(tiers)) {
    throw new InvalidRequestError(`Invalid node '${id}': expected a list of tiers`);
  }
  if (tiers.length > MAX_NODE_TIERS) {
    throw new InvalidRequestError(
      `Invalid node '${id}': expected at most ${MAX_NODE_TIERS} tiers, found ${tiers.length}`,
    );
  }
  return tiers.map((t) => {
    const x = (t ?? {}) as Record<string, unknown>;
    checkLabel(`tier name of node '${id}'`, x.name);
    if (x.kind !== undefined) checkLabel(`tier kind of node '${id}'`, x.kind);
    if (typeof x.name !== "string" || !Number.isSafeInteger(x.capacity)) {
      throw new InvalidRequestError(
        `Invalid tier of node '${id}': expected {name, capacity, ...}, found ${JSON.stringify(t)}`,
      );
    }
    const out: Record<string, unknown> = { name: x.name, capacity: x.capacity };
    if (typeof x.kind === "string") out.kind = x.kind;
    if (typeof x.persistent === "boolean") out.persistent = x.persistent;
    for (const k of ["used", "free", "room", "bandwidth", "latency"] as const) {
      if (typeof x[k] === "number") out[k] = x[k];
    }
    return out as unknown as NodeTier;
  });
}
