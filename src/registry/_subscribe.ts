/**
 * Subscriptions to a dataset's commits: each commit queued for each
 * subscriber (bounded, with its overflow policy), looked up when taken.
 *
 * @module
 */

import { fragmentLayout } from "../ddl/mod.ts";
import { BusyError, InvalidRequestError, LostError } from "../errors.ts";
import {
  type CommitSubscription,
  DEFAULT_BLOCK_MS,
  type FragmentRecord,
  MAX_BLOCK_MS,
  type SourceRecord,
  type SubscribeQuery,
} from "../name_service/name_service.ts";
import { InlineCopies } from "./inline_copies.ts";
import type { Lookup } from "./_lookup.ts";
import { firstCommitted, type RegistryState } from "./_state.ts";
import { NoticeQueue } from "./notice_queue.ts";
import { type AssignPolicy, assignPolicy, SubscriberGroup } from "./subscriber_group.ts";
import { checkBindings, checkLabel, checkName, checkVersion } from "./validate.ts";

/**
 * Subscribes to the commits of `query.dataset` in `state`; see
 * `Registry.subscribe`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RegistryState } from "./_state.ts";
 * import { Lookup } from "./_lookup.ts";
 * import { subscribeCommits } from "./_subscribe.ts";
 * using state = new RegistryState(await Deno.openKv(":memory:"));
 * const sub = subscribeCommits(state, new Lookup(state), { dataset: "t", fragment: "dataset", bindings: {} });
 * assert.equal(await sub.next(5), undefined);
 * sub.close();
 * ```
 */
export function subscribeCommits(
  state: RegistryState,
  lookup: Lookup,
  query: SubscribeQuery,
): CommitSubscription {
  state.checkOpen();
  checkName("dataset", query.dataset);
  checkLabel("fragment name", query.fragment);
  checkBindings(() => `subscription to fragment '${query.fragment}'`, query.bindings);
  const from = query.from ?? 1;
  checkVersion(from);
  if (query.group !== undefined) checkLabel("group name", query.group);
  else if (query.assign !== undefined) {
    throw new InvalidRequestError("A subscription's 'assign' needs a 'group' to assign within");
  }
  const assign = assignPolicy(query.assign);
  const blockMs = query.blockMs ?? DEFAULT_BLOCK_MS;
  if (!Number.isSafeInteger(blockMs) || blockMs < 1 || blockMs > MAX_BLOCK_MS) {
    throw new InvalidRequestError(
      `Invalid subscription blockMs: expected an integer from 1 to ${MAX_BLOCK_MS}, found ${blockMs}`,
    );
  }
  // A fragment its dataset does not declare is refused now, not at the first commit.
  const d = state.datasets.get(query.dataset);
  if (d !== undefined && query.fragment !== "dataset" && !d.ds.fragments.has(query.fragment)) {
    fragmentLayout(d.ds, query.fragment);
  }
  const open = OPEN.get(state) ?? 0;
  if (open >= MAX_SUBSCRIPTIONS) {
    throw new BusyError(
      `Too many subscriptions (${MAX_SUBSCRIPTIONS}) at this registry: close some, or subscribe at another name server`,
      { fields: { limit: MAX_SUBSCRIPTIONS } },
    );
  }
  const queue = new NoticeQueue(query.dataset, query);
  if (queue.policy === "block" && query.group !== undefined) {
    throw new InvalidRequestError(
      "Policy block is not available in a consumer group: its members take versions as they are free",
    );
  }
  const unhold = queue.policy === "block"
    ? state.holdCommits(query.dataset, queue, blockMs)
    : () => {};
  const unfollow = query.group === undefined
    ? follow(state, query.dataset, from, (v) => queue.push(v))
    : joinGroup(state, queue, query, from, assign);
  OPEN.set(state, open + 1);
  const inline = inlineOf(state);
  inline.subscribers.set(query.dataset, (inline.subscribers.get(query.dataset) ?? 0) + 1);
  let left = false;
  const leave = () => {
    if (left) return;
    left = true;
    OPEN.set(state, (OPEN.get(state) ?? 1) - 1);
    const n = inline.subscribers.get(query.dataset) ?? 1;
    if (n > 1) inline.subscribers.set(query.dataset, n - 1);
    else inline.subscribers.delete(query.dataset);
    if (inline.subscribers.size === 0) inline.copies.clear();
    unhold();
    unfollow();
  };
  return {
    async next(timeoutMs) {
      for (;;) {
        const taken = await queue.next(timeoutMs);
        if (taken === undefined) return undefined;
        try {
          const found = lookup.find({ ...query, version: taken.value });
          const sources = withInline(inline.copies, found.sources);
          return { ...found, sources, dropped: taken.dropped };
        } catch (e) {
          // Retired before the consumer took it: counted with the next one.
          if (!(e instanceof LostError)) throw e;
          queue.skipped();
          for (let i = 0; i < taken.dropped; i++) queue.skipped();
        }
      }
    },
    close() {
      leave();
      queue.close();
    },
  };
}

/**
 * Most subscriptions open at once in one registry: each holds a queue and
 * hears every commit, so a client opening them without end would take the
 * name server's memory and CPU. Past it, a subscribe is `BusyError` (503).
 */
export const MAX_SUBSCRIPTIONS = 4096;

/** Subscriptions open, per registry. */
const OPEN = new WeakMap<RegistryState, number>();

/** The small copies' bytes a registry keeps for its notices, and its subscribers per dataset. */
interface Inline {
  readonly copies: InlineCopies;
  readonly subscribers: Map<string, number>;
}

/** Inline bytes and subscribers, per registry. */
const INLINE = new WeakMap<RegistryState, Inline>();

function inlineOf(state: RegistryState): Inline {
  let inline = INLINE.get(state);
  if (inline === undefined) {
    const copies = new InlineCopies();
    INLINE.set(state, inline = { copies, subscribers: new Map() });
    // A retired version is never pushed again: its copies' bytes go with it.
    state.onRelease((retired) => {
      for (const r of retired) copies.forget(r);
    });
  }
  return inline;
}

/**
 * Keeps the bytes a publish carried for `record`'s copy, for the commit
 * notices of its dataset: only while the dataset has subscribers (no one
 * else reads them), within the bounds of `InlineCopies`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RegistryState } from "./_state.ts";
 * import { Lookup } from "./_lookup.ts";
 * import { keepInline, subscribeCommits } from "./_subscribe.ts";
 * using state = new RegistryState(await Deno.openKv(":memory:"));
 * const record = {
 *   dataset: "t", version: 1, fragment: "dataset", bindings: {},
 *   node: "n1", tier: "memory", byteLength: 1, checksum: 0,
 * };
 * assert.equal(keepInline(state, record, new Uint8Array(1)), false); // no subscriber
 * const sub = subscribeCommits(state, new Lookup(state), { dataset: "t", fragment: "dataset", bindings: {} });
 * assert.equal(keepInline(state, record, new Uint8Array(1)), true);
 * sub.close();
 * ```
 */
export function keepInline(
  state: RegistryState,
  record: FragmentRecord,
  bytes: Uint8Array,
): boolean {
  const inline = INLINE.get(state);
  if (inline === undefined || !inline.subscribers.has(record.dataset)) return false;
  inline.copies.keep(record, bytes);
  return true;
}

/** How many small copies' bytes the registry keeps for its notices, and how many bytes. */
export function inlineKept(state: RegistryState): { copies: number; bytes: number } {
  const copies = INLINE.get(state)?.copies;
  return { copies: copies?.size ?? 0, bytes: copies?.bytes ?? 0 };
}

/** `sources`, each with the bytes kept for its copy when there are some. */
function withInline(copies: InlineCopies, sources: SourceRecord[]): SourceRecord[] {
  if (copies.size === 0) return sources;
  return sources.map((s) => {
    const bytes = copies.get(s);
    return bytes === undefined ? s : { ...s, inline: bytes };
  });
}

/**
 * Feeds `take` the versions of `dataset` committed from `from` on: those
 * committed already (oldest first), then each new commit. Returns what
 * stops it.
 */
function follow(
  state: RegistryState,
  dataset: string,
  from: number,
  take: (version: number) => void,
): () => void {
  const d = state.datasets.get(dataset);
  for (let v = d === undefined ? 0 : firstCommitted(d, from); v > 0;) {
    take(v);
    v = firstCommitted(d!, v + 1);
  }
  return state.onCommit((name, version) => {
    if (name === dataset && version >= from) take(version);
  });
}

/** The groups of each registry, by dataset and group name. */
const GROUPS = new WeakMap<
  RegistryState,
  Map<string, { group: SubscriberGroup; stop: () => void }>
>();

/**
 * Adds `queue` to its group, making the group (which follows the dataset
 * from `from`) when it is the first member. Returns how the member leaves.
 */
function joinGroup(
  state: RegistryState,
  queue: NoticeQueue,
  query: SubscribeQuery,
  from: number,
  policy: AssignPolicy,
): () => void {
  let groups = GROUPS.get(state);
  if (groups === undefined) GROUPS.set(state, groups = new Map());
  const key = `${query.dataset}\0${query.group}`;
  let entry = groups.get(key);
  if (entry === undefined) {
    const group = new SubscriberGroup(policy);
    group.join(queue);
    entry = { group, stop: follow(state, query.dataset, from, (v) => group.assign(v)) };
    groups.set(key, entry);
  } else {
    if (entry.group.policy !== policy) {
      throw new InvalidRequestError(
        `Group '${query.group}' of '${query.dataset}' assigns by ${entry.group.policy}, not ${policy}`,
      );
    }
    entry.group.join(queue);
  }
  const joined = entry;
  let left = false;
  return () => {
    if (left) return;
    left = true;
    joined.group.leave(queue);
    if (joined.group.size === 0 && groups!.get(key) === joined) {
      joined.stop();
      groups!.delete(key);
    }
  };
}
