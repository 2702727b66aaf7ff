/**
 * Staged files: where a process on a runtime's node writes bytes it would
 * otherwise send in a request body (a fragment to publish, a service
 * operation's raw body), a file on the node's shm tier whose room is
 * reserved until the request that names it takes it, the stage is
 * abandoned, or it expires.
 *
 * @module
 */

import { BusyError, NotFoundError, NotHereError, type StrataError } from "../errors.ts";
import type { TierSet } from "./tier_set.ts";

/** A staged file: where it is, what it is for, until when it waits. */
export interface Stage<T> {
  /** Its identity, named by the request that takes it. */
  readonly id: string;
  /** The file. */
  readonly path: string;
  /** The shm tier holding it. */
  readonly tier: string;
  /** Bytes the file must hold. */
  readonly byteLength: number;
  /** When it expires, ms since the epoch. */
  readonly expiresAt: number;
  /** Gives back the shm tier's bytes the stage holds (again: nothing). */
  readonly release: () => void;
  /** What the stage is for. */
  readonly payload: T;
  readonly timer: ReturnType<typeof setTimeout>;
}

/** What a stage route answers: where to write the bytes, and until when. */
export interface StageAnswer {
  /** The stage's id, to name in the request that uses it. */
  readonly stage: string;
  /** The file to write. */
  readonly path: string;
  /** Bytes to write. */
  readonly byteLength: number;
  /** The shm tier holding it. */
  readonly tier: string;
  /** When it expires, ms since the epoch. */
  readonly expiresAt: number;
}

/** A stage whose file is being created. */
export type OpenedStage = Omit<Stage<never>, "payload" | "timer">;

/**
 * The staged files of one runtime, each removed when taken, abandoned or
 * expired; at most `max` at once.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { KIND_DEFAULTS, MemoryTier, TierSet } from "./mod.ts";
 * import { Stages } from "./stages.ts";
 * const spec = { name: "mem", kind: "memory", capacity: 1 << 20, ...KIND_DEFAULTS.memory } as const;
 * const tiers = new TierSet({ node: "n", tiers: [{ tier: new MemoryTier("mem", 1 << 20), spec }] });
 * const stages = new Stages<string>(60_000, 4);
 * // No shm tier on this node: staging is refused with what to do instead.
 * assert.throws(() => stages.open(tiers, 10, "a body"), /send the bytes in the body/);
 * ```
 */
export class Stages<T> {
  readonly #held = new Map<string, Stage<T>>();
  readonly #ttlMs: number;
  readonly #max: number;

  /** Stages that wait `ttlMs` at most, `max` at once. */
  constructor(ttlMs: number, max: number) {
    this.#ttlMs = ttlMs;
    this.#max = max;
  }

  /**
   * A new stage's file on an shm tier of `tiers` with room for `byteLength`
   * bytes (not created yet); `NotHereError` (421) when no shm tier has the
   * room, `BusyError` past `max`.
   */
  open(tiers: TierSet, byteLength: number, what: string): OpenedStage {
    if (this.#held.size >= this.#max) {
      throw new BusyError(
        `Cannot stage ${what}: ${this.#max} staged files wait for their request; send or abandon some`,
      );
    }
    const id = crypto.randomUUID();
    // The bytes count against the tier until a request takes the file or
    // the stage ends: staged files cannot together overfill it.
    const file = tiers.reserveShmStaging(id, byteLength);
    if (file === undefined) {
      throw notStaged(
        `node '${tiers.node}' has no shm tier with room for the ${byteLength} bytes of ${what} (staged files waiting for their request count)`,
      );
    }
    return { id, ...file, byteLength, expiresAt: Date.now() + this.#ttlMs };
  }

  /**
   * Opens a stage, creates its file (holding `contents`) for the caller to
   * write as the runtime's user, and keeps it: the answer of a stage route
   * (`stage`, `path`, `byteLength`, `tier`, `expiresAt`).
   */
  async create(
    tiers: TierSet,
    byteLength: number,
    what: string,
    payload: T,
    contents: (id: string) => Uint8Array = () => new Uint8Array(0),
  ): Promise<StageAnswer> {
    const stage = this.open(tiers, byteLength, what);
    try {
      await Deno.writeFile(stage.path, contents(stage.id));
    } catch (e) {
      stage.release();
      throw e;
    }
    this.keep(stage, payload);
    const { id, path, tier, expiresAt } = stage;
    return { stage: id, path, byteLength, tier, expiresAt };
  }

  /** Holds an opened stage, whose file now exists, until it is taken or expires. */
  keep(opened: OpenedStage, payload: T): void {
    const timer = setTimeout(() => {
      if (this.#held.get(opened.id)?.timer === timer) void this.remove(this.take(opened.id));
    }, Math.max(0, opened.expiresAt - Date.now()));
    Deno.unrefTimer(timer);
    this.#held.set(opened.id, { ...opened, payload, timer });
  }

  /** Takes a stage out (once); `not_found` when it is unknown, taken or expired. */
  take(id: string): Stage<T> {
    const stage = this.#held.get(id);
    if (stage === undefined) {
      throw new NotFoundError(
        `Unknown stage '${id.slice(0, 64)}': it was used, abandoned or expired; stage again`,
      );
    }
    this.#held.delete(id);
    clearTimeout(stage.timer);
    return stage;
  }

  /** Removes a taken stage's file and gives its room back. */
  async remove(stage: OpenedStage): Promise<void> {
    stage.release();
    await Deno.remove(stage.path).catch(() => {});
  }
}

/** The 421 of a stage that cannot be made on this node, saying what to do instead. */
export function notStaged(why: string): StrataError {
  return new NotHereError(`Cannot stage in shared memory: ${why}; send the bytes in the body`);
}
