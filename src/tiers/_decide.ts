/**
 * Placement decisions: the configured policy is asked where a copy goes,
 * its answer checked, and the default policy (fastest-fit) decides instead,
 * with a log line, when it throws or answers wrongly.
 *
 * @module
 */

import { NodeFullError } from "../errors.ts";
import { checkDecision } from "./check_decision.ts";
import { defaultPolicy } from "./load_policy.ts";
import type {
  CopyPlacement,
  NamedPolicy,
  NodeView,
  PlacedFragment,
  PlacementRequest,
  ReshapeChoice,
  TierView,
} from "./policy.ts";
import type { TierUsage } from "./usage.ts";

/** Where a copy goes. */
export interface Placement {
  /**
   * Tiers of this node that get a copy. When the policy placed every copy
   * on other nodes, the tiers the default policy picks here to hold the
   * bytes until those copies are registered (`staged`).
   */
  readonly tiers: readonly string[];
  /** Copies the policy placed on other nodes. */
  readonly remote?: readonly CopyPlacement[];
  /** Whether this node's copy only stands in until the remote copies hold the bytes. */
  readonly staged?: boolean;
  /** Where reshapes of the fragment run. */
  readonly reshape: ReshapeChoice;
  /** The policy that decided. */
  readonly policy: string;
}

/** How the placement policy is doing. */
export interface PolicyStatus {
  /** The configured policy. */
  readonly name: string;
  /** Placements in which it failed and the default policy placed the copy instead. */
  readonly fallbacks: number;
  /** Its last failure, when it failed. */
  readonly lastProblem?: string;
}

/** What placement decisions need of a node. */
export interface DecisionsOptions {
  /** This node's name. */
  readonly node: string;
  /** The placement policy (default fastest-fit). */
  readonly policy?: NamedPolicy | undefined;
  /** Where problems with the policy are reported. */
  readonly log: (message: string) => void;
  /** What the policy sees of this node's tiers (`excluded` ones get no room from spilling). */
  readonly views: (excluded?: ReadonlySet<string>) => TierView[];
  /** The tiers' usage, for the 507 when no tier can take a copy. */
  readonly usage: () => TierUsage[];
}

/** Distinct policy problems logged in full; later ones are only counted. */
const REPORTED_PROBLEMS = 64;

/**
 * The placement decisions of one node.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Decisions } from "./_decide.ts";
 * const tier = { name: "fast", kind: "memory" as const, capacity: 100, used: 0, free: 100, room: 100, bandwidth: 1e9, latency: 0, persistent: false };
 * const logged: string[] = [];
 * const decisions = new Decisions({
 *   node: "n1",
 *   policy: { name: "broken", place: () => { throw new Error("no"); } },
 *   log: (m) => logged.push(m),
 *   views: () => [tier],
 *   usage: () => [{ ...tier, count: 0 }],
 * });
 * const fragment = { dataset: "d", version: 1, fragment: "dataset", bindings: {}, byteLength: 10, durable: false, consumers: [] };
 * assert.deepEqual(decisions.decide(fragment, decisions.configured).tiers, ["fast"]);
 * assert.equal(decisions.status.fallbacks, 1);
 * assert.equal(logged.length, 1);
 * ```
 */
export class Decisions {
  /** The configured policy. */
  readonly configured: NamedPolicy;
  /** The default policy, which stands in when the configured one fails. */
  readonly default: NamedPolicy;
  readonly #o: DecisionsOptions;
  readonly #reported = new Set<string>();
  #fallbacks = 0;
  #lastProblem: string | undefined;
  #sequence = 0;

  /** Decisions for the node `options.node`. */
  constructor(options: DecisionsOptions) {
    this.#o = options;
    this.default = defaultPolicy();
    // Config naming the default policy gets the default itself: its failures are 507s, not fallbacks.
    this.configured = options.policy === undefined || options.policy.place === this.default.place
      ? this.default
      : options.policy;
  }

  /** The configured policy and how often the default had to stand in for it. */
  get status(): PolicyStatus {
    return {
      name: this.configured.name,
      fallbacks: this.#fallbacks,
      ...(this.#lastProblem === undefined ? {} : { lastProblem: this.#lastProblem }),
    };
  }

  /**
   * Asks `policy` where a new copy goes. A policy that throws or answers
   * wrongly is reported and the default policy decides; `NodeFullError`
   * when the default finds no room either.
   */
  decide(
    fragment: PlacedFragment,
    policy: NamedPolicy,
    excluded?: ReadonlySet<string>,
    others: readonly NodeView[] = [],
  ): Placement {
    const node = this.#o.node;
    const request: PlacementRequest = {
      fragment,
      node,
      nodes: [{
        name: node,
        link: { bandwidth: Infinity, latency: 0 },
        tiers: this.#o.views(excluded),
      }, ...others.filter((n) => n.name !== node)],
      sequence: this.#sequence++,
    };
    let problem: string;
    try {
      const checked = checkDecision(policy.place(request), request);
      if (checked.ok) {
        const { copies, reshape } = checked.decision;
        const here = copies.filter((c) => c.node === node).map((c) => c.tier);
        const remote = copies.filter((c) => c.node !== node);
        if (remote.length === 0) return { tiers: here, reshape, policy: policy.name };
        if (here.length > 0) return { tiers: here, remote, reshape, policy: policy.name };
        // Every copy goes elsewhere: the bytes stay here, where the default
        // policy puts them, until a remote copy holds them.
        const stage = this.decide(fragment, this.default, excluded);
        return { tiers: stage.tiers, remote, staged: true, reshape, policy: policy.name };
      }
      problem = checked.problem;
    } catch (e) {
      problem = `threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`;
    }
    if (policy === this.default) throw this.full(fragment);
    this.report(policy.name, problem, fragment);
    return this.decide(fragment, this.default, excluded);
  }

  /** Counts a failure of `policy`, and logs it the first time it happens. */
  report(policy: string, problem: string, fragment: PlacedFragment): void {
    this.#fallbacks++;
    const message = `Placement policy '${policy}' ${problem} for ${
      describe(fragment)
    }; placed by ${this.default.name} instead`;
    this.#lastProblem = message;
    // The same fault repeats on every publish: log each distinct one once, count them all.
    const kind = `${policy}\0${problem}`;
    if (this.#reported.has(kind) || this.#reported.size >= REPORTED_PROBLEMS) return;
    this.#reported.add(kind);
    this.#o.log(message);
  }

  /** The 507 for a copy no tier (or none of `only`) can take, with each tier's usage. */
  full(fragment: PlacedFragment, only?: readonly string[]): NodeFullError {
    const usage = this.#o.usage().filter((u) => only === undefined || only.includes(u.name));
    const notes = usage.map((u) => ({ name: u.name, capacity: u.capacity, used: u.used }));
    const noPersistent = fragment.durable &&
      !usage.some((u) => u.persistent && u.capacity >= fragment.byteLength);
    return new NodeFullError(this.#o.node, {
      what: describe(fragment),
      byteLength: fragment.byteLength,
      tiers: notes,
      detail: noPersistent
        ? "a durable fragment needs a persistent tier that can hold it"
        : undefined,
    });
  }
}

function describe(f: PlacedFragment): string {
  return `fragment '${f.fragment}' of version ${f.version} of '${f.dataset}'`;
}
