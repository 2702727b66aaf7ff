/**
 * How the runtime names, places and fails copies: a copy named for
 * messages, the fragment a placement policy sees, and the errors of a copy
 * that is lost, unreachable or refused.
 *
 * @module
 */

import {
  ConflictError,
  DescriptionError,
  InvalidRequestError,
  LayoutError,
  LostError,
  MissingRegionError,
  NotCommittedError,
  NotFoundError,
  SizeMismatchError,
  type StrataError,
  UnauthorizedError,
  UnavailableError,
} from "../errors.ts";
import type { PlacedFragment } from "../tiers/policy.ts";
import type { TierSpec } from "../tiers/tier_config.ts";
import { regionKey } from "../tiers/copy_keys.ts";
import type {
  DatasetSettings,
  FragmentRecord,
  SourceRecord,
} from "../name_service/name_service.ts";
import { log, metrics } from "../observe/mod.ts";

/** `rows (r0=0,r1=4)`: a fragment copy named for messages. */
export function describeCopy(
  c: { fragment: string; bindings: Readonly<Record<string, number>> },
): string {
  const region = regionKey(c.bindings);
  return region === "" ? c.fragment : `${c.fragment} (${region})`;
}

/** A copy of `bytes` as a placement policy sees it. */
export function placedFragment(
  req: Pick<FragmentRecord, "dataset" | "version" | "fragment" | "bindings"> & {
    readonly bytes: { readonly byteLength: number };
  },
  settings: DatasetSettings,
): PlacedFragment {
  return {
    dataset: req.dataset,
    version: req.version,
    fragment: req.fragment,
    bindings: req.bindings,
    byteLength: req.bytes.byteLength,
    durable: settings.durable,
    consumers: settings.consumers ?? [],
  };
}

/** Whether `node` holds a copy of `s`: the primary copy or a replica. */
export function holdsHere(s: FragmentRecord, node: string): boolean {
  return s.node === node || (s.replicas?.some((p) => p.node === node) ?? false);
}

/**
 * The error for a copy whose bytes on `node` do not match its record: that
 * copy is lost (its bytes are never served), and an attach tries the
 * copy's other places before it fails with this.
 */
export function corruptCopy(
  c: Pick<FragmentRecord, "dataset" | "version" | "fragment" | "bindings">,
  node: string,
  detail: string,
): LostError {
  return new LostError(
    c.dataset,
    c.version,
    describeCopy(c),
    `held by node '${node}' does not match its record (${detail}): its bytes are never served`,
    { node },
  );
}

/**
 * Counts and logs a copy found missing or corrupt on this node (metric
 * `strata_copies_lost_total`, a `copy lost` warning); returns the error to
 * throw.
 */
export function lost(e: LostError): LostError {
  metrics.copiesLost.inc();
  log.warn("copy lost", { node: e.node, error: e.message });
  return e;
}

/**
 * The error for a copy on a node that cannot serve it: down, or this
 * runtime has no data plane. `specs` are this node's tiers.
 */
export function unreachableCopy(
  s: SourceRecord,
  why: "down" | "no data plane",
  specs: readonly TierSpec[],
): StrataError {
  if (why === "no data plane") {
    return new UnavailableError(
      `Fragment '${
        describeCopy(s)
      }' of version ${s.version} of '${s.dataset}' is on node '${s.node}', and this runtime has no data plane to fetch it`,
    );
  }
  // Another node's tiers are declared in its own config: a tier of the
  // same name here, or the persistent kinds' usual names, say whether it keeps copies.
  const spec = specs.find((t) => t.name === s.tier);
  if (spec?.persistent ?? (s.tier === "file" || s.tier === "backing")) {
    return new UnavailableError(
      `Fragment '${
        describeCopy(s)
      }' of version ${s.version} of '${s.dataset}' is on the ${s.tier} tier of node '${s.node}', which is down: it is served again when '${s.node}' restarts`,
    );
  }
  return new LostError(
    s.dataset,
    s.version,
    describeCopy(s),
    `was held only in memory by node '${s.node}', whose lease lapsed`,
    { node: s.node },
  );
}

/** Why no tier of `node` holds a registered copy, from the tier its record names. */
export function whyGone(tier: string, specs: readonly TierSpec[], node: string): string {
  const spec = specs.find((t) => t.name === tier);
  if (spec === undefined) return `was on tier '${tier}', which node '${node}' no longer has`;
  if (spec.persistent) return `is missing from the ${tier} tier`;
  if (spec.kind === "memory") return "was held only in memory and is gone";
  return `was held only in the volatile ${tier} tier and is gone`;
}

/**
 * The error of an attach whose sources failed: every lost copy named in one
 * `LostError`, or else the first failure.
 */
export function firstFailure(settled: PromiseSettledResult<unknown>[], version: number): unknown {
  const failures = settled.flatMap((r) => r.status === "rejected" ? [r.reason] : []);
  const lost = failures.filter((e): e is LostError => e instanceof LostError);
  if (lost.length > 1) {
    const first = lost[0]!;
    return new LostError(
      first.dataset,
      version,
      lost.map((e) => e.fragment).join("', '"),
      first.detail,
    );
  }
  return lost[0] ?? failures[0];
}

/**
 * Whether a failed registration surely wrote nothing: the name server
 * answered with a refusal. A name server that did not answer, or failed
 * on its side, may have recorded the copy: its bytes must stay.
 */
export function refused(e: unknown): boolean {
  return REFUSALS.some((refusal) => e instanceof refusal);
}

/** The errors of a name server's answers that refuse a registration outright. */
const REFUSALS: readonly (abstract new (...args: never[]) => StrataError)[] = [
  ConflictError,
  NotFoundError,
  SizeMismatchError,
  LayoutError,
  InvalidRequestError,
  DescriptionError,
  MissingRegionError,
  NotCommittedError,
  UnauthorizedError,
];
