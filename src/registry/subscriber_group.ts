/**
 * Consumer groups: subscribers of one dataset that share its versions,
 * each committed version handed to exactly one of them, the work
 * distribution of a pool of analysis ranks.
 *
 * @module
 */

import { InvalidRequestError } from "../errors.ts";
import type { NoticeQueue } from "./notice_queue.ts";

/**
 * How a group picks the member a version goes to: `first-free` (default) a
 * member waiting for its next version, else the one with the fewest
 * queued; `round-robin` each member in turn.
 */
export type AssignPolicy = "first-free" | "round-robin";

/** The assignment policies, in the order docs list them. */
export const ASSIGN_POLICIES: readonly AssignPolicy[] = ["first-free", "round-robin"];

/** `policy` as an assignment policy; `InvalidRequestError` naming the choices otherwise. */
export function assignPolicy(policy: string | undefined): AssignPolicy {
  if (policy === undefined) return "first-free";
  if (!(ASSIGN_POLICIES as readonly string[]).includes(policy)) {
    throw new InvalidRequestError(
      `Invalid group assignment '${policy.slice(0, 40)}': expected ${ASSIGN_POLICIES.join(" or ")}`,
    );
  }
  return policy as AssignPolicy;
}

/**
 * The members of one group and the versions handed to each. A version goes
 * into one member's queue (bounded by its own limit and policy); a member
 * that leaves hands the versions it had not taken to the others, in order.
 * Versions committed while the group has no member are not kept for it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { NoticeQueue } from "./notice_queue.ts";
 * import { SubscriberGroup } from "./subscriber_group.ts";
 * const group = new SubscriberGroup("round-robin");
 * const a = new NoticeQueue("d"), b = new NoticeQueue("d");
 * group.join(a);
 * group.join(b);
 * for (const v of [1, 2, 3]) group.assign(v);
 * assert.deepEqual(a.drain(), [1, 3]);
 * assert.deepEqual(b.drain(), [2]);
 * ```
 */
export class SubscriberGroup {
  readonly policy: AssignPolicy;
  readonly #members: NoticeQueue[] = [];
  /** Where the next turn starts: the member after the last one given a version. */
  #turn = 0;

  /** An empty group assigning by `policy`. */
  constructor(policy: AssignPolicy) {
    this.policy = policy;
  }

  /** Members now. */
  get size(): number {
    return this.#members.length;
  }

  /** Adds a member. */
  join(member: NoticeQueue): void {
    this.#members.push(member);
  }

  /** Removes a member; the versions it had not taken go to the others. */
  leave(member: NoticeQueue): void {
    const i = this.#members.indexOf(member);
    if (i < 0) return;
    this.#members.splice(i, 1);
    if (this.#turn > i) this.#turn--;
    for (const v of member.drain()) this.assign(v);
  }

  /** Hands `version` to one member (none when the group is empty). */
  assign(version: number): void {
    const n = this.#members.length;
    if (n === 0) return;
    let pick = this.#turn % n;
    if (this.policy === "first-free") {
      let fewest = -1;
      for (let k = 0; k < n; k++) {
        const i = (this.#turn + k) % n;
        const m = this.#members[i]!;
        if (m.waiting && m.length === 0) {
          fewest = i;
          break;
        }
        if (fewest < 0 || m.length < this.#members[fewest]!.length) fewest = i;
      }
      pick = fewest;
    }
    this.#turn = (pick + 1) % n;
    this.#members[pick]!.push(version);
  }
}
