/**
 * The placement policy contract: what a policy module is given and what it
 * answers. A policy is pure: it reads its request and returns a decision,
 * with no I/O and no clock, so it is tested in microseconds.
 *
 * @module
 */

import type { TierKind } from "./tier.ts";

/** A tier as a policy sees it. */
export interface TierView {
  /** Name, unique on its node. */
  readonly name: string;
  /** Kind of store. */
  readonly kind: TierKind;
  /** Capacity in bytes. */
  readonly capacity: number;
  /** Bytes held. */
  readonly used: number;
  /** Bytes free now. */
  readonly free: number;
  /**
   * Bytes free once the spill rule demotes least-recently-used copies to the
   * tiers after this one: an estimate (copies move whole); a tier fits a
   * copy when `room` and `capacity` are at least its size.
   */
  readonly room: number;
  /** Sustained bandwidth, bytes per second. */
  readonly bandwidth: number;
  /** Latency of one access, seconds. */
  readonly latency: number;
  /** Whether copies survive a restart of the runtime. */
  readonly persistent: boolean;
}

/** A node as a policy sees it. */
export interface NodeView {
  /** Node name. */
  readonly name: string;
  /** The link from the publishing node (zero latency, infinite bandwidth for that node itself). */
  readonly link: { readonly bandwidth: number; readonly latency: number };
  /** Its tiers, fastest first: the order copies spill in. */
  readonly tiers: readonly TierView[];
}

/** The fragment copy to place. */
export interface PlacedFragment {
  /** Dataset name. */
  readonly dataset: string;
  /** Version number. */
  readonly version: number;
  /** Fragment name (`dataset` for the whole dataset's layout). */
  readonly fragment: string;
  /** Region parameters. */
  readonly bindings: Readonly<Record<string, number>>;
  /** Size in bytes. */
  readonly byteLength: number;
  /** Whether the dataset is durable: some copy must be on a persistent tier. */
  readonly durable: boolean;
  /** Nodes where the dataset's declared consumers attach (may be empty). */
  readonly consumers: readonly string[];
}

/** What a policy is asked. */
export interface PlacementRequest {
  /** The copy to place. */
  readonly fragment: PlacedFragment;
  /** The node the publish arrived at. */
  readonly node: string;
  /** Every node a copy may go to, with its tiers. */
  readonly nodes: readonly NodeView[];
  /** How many placements the publishing node asked for before this one (for rotating policies). */
  readonly sequence: number;
}

/** One copy's place. */
export interface CopyPlacement {
  /** Node name. */
  readonly node: string;
  /** Tier name on that node. */
  readonly tier: string;
}

/**
 * Where a reshape of this fragment runs when another node attaches it in a
 * different layout: `source`, on the node holding the copy, before the
 * bytes move (in situ); `destination`, on the attaching node, after they
 * arrive (in transit).
 */
export type ReshapeSite = "source" | "destination";

/**
 * Where a policy wants reshapes of a fragment to run: a site, or `auto` to
 * leave it to each attach (the attaching runtime's `reshape` setting, by
 * default the side that moves fewer bytes, the destination on a tie).
 */
export type ReshapeChoice = ReshapeSite | "auto";

/** What a policy answers. */
export interface PlacementDecision {
  /** The copies to write: at least one; a durable fragment needs one on a persistent tier. */
  readonly copies: readonly CopyPlacement[];
  /** Where reshapes of this fragment run. */
  readonly reshape: ReshapeChoice;
}

/**
 * A placement policy: the one function a module in placements/ exports (as
 * its default export, or as `place`).
 */
export type PlacementPolicy = (request: PlacementRequest) => PlacementDecision;

/** A policy with the name it is reported under. */
export interface NamedPolicy {
  /** A built-in's name, or the module path of a custom policy. */
  readonly name: string;
  /** The function. */
  readonly place: PlacementPolicy;
}
