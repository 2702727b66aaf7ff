/**
 * Reading a copy another node holds: the part of it a target needs, cut
 * and reshaped where the attach, the copy's placement or the runtime says,
 * fetched over the data plane and tried again when its bytes were spoiled
 * on the way or its node moved.
 *
 * @module
 */

import { ChecksumError, UnavailableError } from "../errors.ts";
import type { FragmentLayout } from "../transform/layout.ts";
import type { WireCopy } from "../wire/codec.ts";
import type { Peer, WireClient } from "../wire/client.ts";
import { coversWhole, cutLayout, type ReshapeAt } from "../wire/cut.ts";
import type { SourceRecord } from "../name_service/name_service.ts";
import type { ChunkedRun } from "./plan_chunks.ts";
import type { RuntimeCore } from "./_core.ts";
import { corruptCopy, unreachableCopy } from "./_copies.ts";
import type { ReshapeMode } from "./requests.ts";

/** Bytes in a layout: one source of an attach's plan. */
export interface Part {
  readonly layout: FragmentLayout;
  readonly bytes: Uint8Array;
  /** Whether `bytes` is a scratch buffer of the runtime's pool. */
  readonly pooled: boolean;
  /** The attach's result, when the part was reshaped into it as it arrived. */
  readonly result?: Uint8Array;
}

/** Where a remote part is received. */
export interface Sink {
  readonly bytes: Uint8Array;
  readonly pooled: boolean;
  /** The attach's result, when the part is reshaped into it as it arrives. */
  readonly result?: Uint8Array;
  /** That reshape, started afresh for each attempt to fetch the part. */
  readonly run?: () => ChunkedRun;
}

/** Reads parts of copies that other nodes hold. */
export class RemoteReader {
  readonly #core: RuntimeCore;
  readonly #wire: WireClient | undefined;
  readonly #reshape: ReshapeMode;

  /** Creates a reader over the data plane client `wire`; `reshape` is the runtime's default. */
  constructor(core: RuntimeCore, wire: WireClient | undefined, reshape: ReshapeMode) {
    this.#core = core;
    this.#wire = wire;
    this.#reshape = reshape;
  }

  /**
   * Fetches the part of a remote copy that `target` needs, reshaped where
   * `mode` says, into the buffer `sink` gives for its layout.
   */
  async read(
    s: SourceRecord,
    target: FragmentLayout,
    mode: ReshapeMode,
    sink: (want: FragmentLayout) => Sink,
  ): Promise<Part> {
    const peer = await this.#core.peers.peer(s.node);
    if (peer === undefined || this.#wire === undefined) {
      throw unreachableCopy(
        s,
        peer === undefined ? "down" : "no data plane",
        this.#core.tiers.specs,
      );
    }
    const want = this.#want(s, target, mode);
    if (want === undefined) {
      // The registry found it intersecting; nothing of it is needed after all.
      return { layout: { byteLength: 0, slots: [] }, bytes: new Uint8Array(0), pooled: false };
    }
    const copy: WireCopy = {
      dataset: s.dataset,
      version: s.version,
      fragment: s.fragment,
      bindings: s.bindings,
      layout: s.layout,
      byteLength: s.byteLength,
      checksum: s.checksum,
    };
    const dest = sink(want);
    try {
      return await this.#fetch(s, peer, copy, want, dest);
    } catch (e) {
      // Nothing reads into it any more: the fetch has settled.
      if (dest.pooled) this.#core.scratch.give(dest.bytes);
      throw e;
    }
  }

  /**
   * The layout to fetch a copy in: cut to what `target` needs, in the copy's
   * types (reshape at the destination) or the target's (at the source);
   * undefined when nothing of it is needed.
   */
  #want(s: SourceRecord, target: FragmentLayout, mode: ReshapeMode): FragmentLayout | undefined {
    const inTransit = cutLayout(s.layout, target, "destination");
    const inSitu = cutLayout(s.layout, target, "source");
    if (inTransit === undefined || inSitu === undefined) return undefined;
    // The attach's own choice, else where the placement policy said, else the runtime's default.
    const chosen = mode === "auto" ? (s.reshape ?? this.#reshape) : mode;
    const at: ReshapeAt = chosen === "auto"
      ? (inSitu.byteLength < inTransit.byteLength ? "source" : "destination")
      : chosen;
    const want = at === "source" ? inSitu : inTransit;
    if (at === "source" && coversWhole(withNames(want, target), target)) return target;
    if (at === "destination" && coversWhole(want, s.layout)) return s.layout;
    return want;
  }

  /** One fetch of a remote part into `sink`, tried again once when its node seems gone. */
  async #fetch(
    s: SourceRecord,
    peer: Peer,
    copy: WireCopy,
    want: FragmentLayout,
    sink: Sink,
  ): Promise<Part> {
    const wire = this.#wire!;
    // Each attempt reshapes from its own bytes: nothing of a failed one counts.
    const attempt = async (at: Peer) => {
      const run = sink.run?.();
      await wire.fetch(at, copy, want, { into: sink.bytes, onData: (n) => run?.advance(n) });
      run?.finish();
    };
    try {
      await attempt(peer);
    } catch (e) {
      if (mismatch(e)) {
        // Bytes spoiled on the way are fetched again; a second mismatch means
        // the holder's bytes are spoiled: the copy is lost, never served.
        try {
          await attempt(peer);
        } catch (again) {
          if (mismatch(again)) throw corruptCopy(s, s.node, (again as Error).message);
          throw again;
        }
      } else {
        if (!(e instanceof UnavailableError)) throw e;
        // The node may have died, or restarted elsewhere, since the directory
        // was read: ask again, and try once more if it is up.
        this.#core.peers.forget(s.node);
        const again = await this.#core.peers.peer(s.node);
        if (again === undefined) throw unreachableCopy(s, "down", this.#core.tiers.specs);
        await attempt(again);
      }
    }
    const part = { layout: want, bytes: sink.bytes, pooled: sink.pooled };
    return sink.result === undefined ? part : { ...part, result: sink.result };
  }
}

/** Whether `e` says bytes did not match their checksum, here or at the peer. */
function mismatch(e: unknown): boolean {
  return e instanceof ChecksumError;
}

/** A cut with the target's slot names, to compare it with the target. */
function withNames(cut: FragmentLayout, target: FragmentLayout): FragmentLayout {
  if (cut.slots.length !== target.slots.length) return cut;
  return { ...cut, slots: cut.slots.map((s, i) => ({ ...s, name: target.slots[i]!.name })) };
}
