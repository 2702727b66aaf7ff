/**
 * What a runtime is asked and what it answers: its options, publish and
 * attach requests, attached bytes, replica requests and flush results.
 *
 * @module
 */

import type { TierSet } from "../tiers/tier_set.ts";
import type { FragmentLayout } from "../transform/layout.ts";
import type { ReshapeAt } from "../wire/cut.ts";
import type { FragmentRecord, NameService, NodeEntry } from "../name_service/name_service.ts";
import type { WireClient } from "../wire/client.ts";

/** Options of a runtime. */
export interface RuntimeOptions {
  /** This node's name, as recorded with every copy it holds (the tier set's node). */
  readonly node: string;
  /** The name server. */
  readonly names: NameService;
  /** This node's tiers and placement policy. */
  readonly tiers: TierSet;
  /** Compiled plans kept for reuse (default 256). */
  readonly planCacheSize?: number;
  /** The data plane client that fetches copies held by other nodes. */
  readonly wire?: WireClient;
  /**
   * Where reshapes of remote copies run when neither the attach nor the
   * copy's placement says (default `auto`).
   */
  readonly reshape?: ReshapeMode;
  /**
   * Asks another node to fetch a copy and keep it in one of its tiers (the
   * placement policy put a copy there). Default: `POST /v1/replicas` on the
   * node's HTTP API, with `token`.
   */
  readonly sendReplica?: SendReplica;
  /** Bearer token for the default `sendReplica`. */
  readonly token?: string;
  /**
   * The network link to other nodes as placement policies see it (default
   * 1 GB/s and 100 µs: loopback TCP on a small machine, measured lower than
   * memory so that a policy prefers local tiers it has room in).
   */
  readonly link?: { readonly bandwidth: number; readonly latency: number };
}

/** What a node is asked to replicate: a registered copy, and the tier to keep it in. */
export interface ReplicaRequest {
  /** The registered copy (its `node` holds the bytes). */
  readonly copy: FragmentRecord;
  /** The tier of the receiving node that should hold the replica. */
  readonly tier: string;
}

/**
 * Sends a replica request to another node and resolves once that node
 * holds the copy and has registered it.
 */
export type SendReplica = (target: NodeEntry, request: ReplicaRequest) => Promise<void>;

/**
 * Where the reshape of a remote copy runs: at the `source` (in situ), at the
 * `destination` (in transit), or `auto`: where fewer bytes cross the wire,
 * the destination on a tie (it spares the node that produces the data).
 */
export type ReshapeMode = ReshapeAt | "auto";

/** A publish request. */
export interface PublishRequest {
  /** Dataset name. */
  readonly dataset: string;
  /** Version number (>= 1). */
  readonly version: number;
  /** Fragment name, or `dataset` for the whole-dataset layout. */
  readonly fragment: string;
  /** Region parameters. */
  readonly bindings: Readonly<Record<string, number>>;
  /** The bytes, exactly the fragment's layout. The runtime keeps this buffer. */
  readonly bytes: Uint8Array;
}

/** An attach request. */
export interface AttachRequest {
  /** Dataset name. */
  readonly dataset: string;
  /** A version, or `latest`. */
  readonly version: number | "latest";
  /** Fragment name, or `dataset`. */
  readonly fragment: string;
  /** Region parameters. */
  readonly bindings: Readonly<Record<string, number>>;
  /** Wait this long for `version` or a later one to be committed. */
  readonly waitMs?: number;
  /** Where the reshape of copies held by other nodes runs (default: the runtime's). */
  readonly reshape?: ReshapeMode;
  /**
   * The creation time of the dataset the caller's layout was made from (its
   * `createdAt`): when the name server holds another dataset of that name
   * now (deleted and created again), the attach fails with
   * `DatasetReplacedError` before any byte is read.
   */
  readonly createdAt?: number;
  /**
   * Attach into this buffer instead of a new one: exactly the byte length of
   * the result's layout (else an `InvalidRequestError`, and nothing is
   * written), not a view of bytes a tier holds. The result's `bytes` is
   * `into`. When the attach fails later (a lost copy, a checksum mismatch),
   * `into` may hold part of the bytes and must not be used. Reusing one
   * buffer step after step spares a fresh allocation (and its page faults)
   * per attach.
   */
  readonly into?: Uint8Array;
}

/** Attached bytes: what `Runtime.attach()` and `Runtime.attachLayout()` answer. */
export interface AttachedBytes {
  /** The committed version they come from. */
  readonly version: number;
  /** Their layout. */
  readonly layout: FragmentLayout;
  /** The bytes. */
  readonly bytes: Uint8Array;
}

/** What a flush did. */
export interface FlushResult {
  /** Dataset name. */
  readonly dataset: string;
  /** Version flushed. */
  readonly version: number;
  /** The tier flushed to. */
  readonly tier: string;
  /** Copies of the version this node holds. */
  readonly copies: number;
  /** Of those, copies written to the tier now (the others were there already). */
  readonly written: number;
  /** Bytes of the copies of the version this node holds. */
  readonly bytes: number;
}
