/**
 * What the parts of a runtime share: the node, its name server and tiers,
 * the peers it reaches, its staged copies, plan cache and scratch buffers.
 *
 * @module
 */

import type { TierSet } from "../tiers/tier_set.ts";
import type { NameService } from "../name_service/name_service.ts";
import type { BufferPool } from "./buffer_pool.ts";
import type { PeerDirectory } from "./peers.ts";
import type { PlanCache } from "./plan_cache.ts";
import type { StagedCopies } from "./staged_copies.ts";

/** The state of one runtime that its publish, replica and attach parts share. */
export interface RuntimeCore {
  /** This node's name. */
  readonly node: string;
  /** The name server. */
  readonly names: NameService;
  /** This node's tiers. */
  readonly tiers: TierSet;
  /** Where other nodes' data planes listen. */
  readonly peers: PeerDirectory;
  /** Staged copies the tiers hold. */
  readonly staged: StagedCopies;
  /** Compiled plans kept for reuse. */
  readonly plans: PlanCache;
  /** Scratch buffers of the data path: received parts that feed a plan, reshaped copies being sent. */
  readonly scratch: BufferPool;
}
