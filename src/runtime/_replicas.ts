/**
 * Copies on other nodes: the copies a placement policy put elsewhere are
 * fetched by those nodes and registered as replicas before a publish is
 * answered, and this node fetches and registers the replicas it is asked
 * to keep.
 *
 * @module
 */

import { ConflictError, InvalidRequestError, UnavailableError } from "../errors.ts";
import type { Placement } from "../tiers/tier_set.ts";
import { copyKey } from "../tiers/copy_keys.ts";
import type { CopyPlace, FragmentRecord, SourceRecord } from "../name_service/name_service.ts";
import type { RuntimeCore } from "./_core.ts";
import { describeCopy, placedFragment, refused } from "./_copies.ts";
import type { RemoteReader } from "./_read_remote.ts";
import type { ReplicaRequest, SendReplica } from "./requests.ts";
import { log } from "../observe/mod.ts";

/** The replicas of one runtime: those it asks for and those it keeps. */
export class Replicas {
  readonly #core: RuntimeCore;
  readonly #send: SendReplica;
  readonly #remote: RemoteReader;

  /** Creates the replica part of a runtime. */
  constructor(core: RuntimeCore, send: SendReplica, remote: RemoteReader) {
    this.#core = core;
    this.#send = send;
    this.#remote = remote;
  }

  /**
   * Places the copies the policy put on other nodes: each node fetches the
   * bytes from this one over the data plane, stores them and registers its
   * replica. A copy that only stood in here is then dropped, once another
   * is registered. A node that fails keeps nothing and the copy stays here:
   * the failure is logged, never a loss.
   */
  async spread(record: FragmentRecord, placement: Placement): Promise<FragmentRecord> {
    const remote = placement.remote ?? [];
    if (remote.length === 0) return record;
    const placed = await this.#ask(record, remote);
    const out: FragmentRecord = placed.length === 0 ? record : { ...record, replicas: placed };
    if (placement.staged && placed.length > 0 && await this.#core.names.dropCopy(record)) {
      return await this.#dropStandIn(out, placed);
    }
    return out;
  }

  /** Asks each node of `remote` for its replica; the places that took one. */
  async #ask(record: FragmentRecord, remote: readonly CopyPlace[]): Promise<CopyPlace[]> {
    const settled = await Promise.allSettled(remote.map(async (c) => {
      const target = await this.#core.peers.entry(c.node);
      if (target === undefined) throw new UnavailableError(`node '${c.node}' is down`);
      await this.#send(target, { copy: record, tier: c.tier });
      return c;
    }));
    const placed: CopyPlace[] = [];
    settled.forEach((r, i) => {
      if (r.status === "fulfilled") placed.push({ node: r.value.node, tier: r.value.tier });
      else {
        const c = remote[i]!;
        log.warn("replica failed", {
          dataset: record.dataset,
          version: record.version,
          copy: describeCopy(record),
          node: c.node,
          tier: c.tier,
          error: String((r.reason as Error)?.message ?? r.reason),
          stays: this.#core.node,
        });
      }
    });
    return placed;
  }

  /** Drops the copy that only stood in here: the first replica becomes the copy. */
  async #dropStandIn(record: FragmentRecord, placed: CopyPlace[]): Promise<FragmentRecord> {
    await this.#core.staged.deleteWith(
      copyKey(record.dataset, record.version, record.fragment, record.bindings),
    );
    const [first, ...rest] = placed;
    const { replicas: _, ...base } = record;
    return {
      ...base,
      node: first!.node,
      tier: first!.tier,
      ...(rest.length ? { replicas: rest } : {}),
    };
  }

  /**
   * Fetches a registered copy from the node holding it, keeps it in `tier`
   * of this node (spilling as needed; another tier of this node when that
   * one cannot make room) and registers it as a replica. The bytes are
   * checked against the recorded checksum on the way. `ConflictError` when
   * the copy is no longer registered (nothing is kept).
   */
  async receive(request: ReplicaRequest): Promise<{ tier: string }> {
    const { copy, tier } = request;
    this.#check(copy, tier);
    const { names, tiers } = this.#core;
    const settings = await names.datasetSettings(copy.dataset);
    const layout = await names.fragmentLayout(copy.dataset, copy.fragment, copy.bindings);
    const source: SourceRecord = { ...copy, layout };
    const { bytes } = await this.#remote.read(source, layout, "destination", (want) => ({
      bytes: new Uint8Array(want.byteLength),
      pooled: false,
    }));
    const key = copyKey(copy.dataset, copy.version, copy.fragment, copy.bindings);
    const placed = placedFragment({ ...copy, bytes }, settings);
    const stored = await tiers.store(key, bytes, placed, {
      tiers: [tier],
      reshape: copy.reshape ?? "auto",
      policy: tiers.policy.name,
    });
    await this.#register(copy, key, stored);
    return { tier: stored.primary };
  }

  /** Refuses a replica of a copy this node holds, or onto a tier it does not have. */
  #check(copy: FragmentRecord, tier: string): void {
    const { node, tiers } = this.#core;
    if (copy.node === node) {
      throw new InvalidRequestError(
        `Cannot replicate ${describeCopy(copy)} onto node '${node}': it holds the copy already`,
      );
    }
    if (!tiers.specs.some((t) => t.name === tier)) {
      throw new InvalidRequestError(
        `Cannot replicate onto tier '${tier}': node '${node}' has no such tier (it has ${
          tiers.specs.map((t) => t.name).join(", ")
        })`,
      );
    }
  }

  /** Registers a stored replica; its bytes go when the copy is not registered any more. */
  async #register(
    copy: FragmentRecord,
    key: string,
    stored: { readonly primary: string; readonly generation: number },
  ): Promise<void> {
    const { names, tiers, node } = this.#core;
    let added: boolean;
    try {
      added = await names.addReplica({ ...copy, node }, stored.primary);
    } catch (e) {
      // A replica the name server may have recorded keeps its bytes.
      if (refused(e)) await tiers.deleteIf(key, stored.generation);
      throw e;
    }
    if (!added) await tiers.deleteIf(key, stored.generation);
    if (!added) {
      throw new ConflictError(
        `Cannot replicate ${
          describeCopy(copy)
        } of version ${copy.version} of '${copy.dataset}': it is not registered any more`,
      );
    }
  }
}
