/**
 * The attach read path: look the copies up, read each from this node's
 * tiers or fetch it from another node, check it, and run the plan from the
 * parts into the target layout.
 *
 * @module
 */

import {
  DatasetReplacedError,
  InvalidRequestError,
  LostError,
  UnavailableError,
} from "../errors.ts";
import { crc32 } from "node:zlib";
import type { FragmentLayout } from "../transform/layout.ts";
import { executePlan } from "../transform/execute.ts";
import { coversWhole, cutLayout, sameLayout } from "../wire/cut.ts";
import { copyKey } from "../tiers/copy_keys.ts";
import type { CopyPlace, NameService, SourceRecord } from "../name_service/name_service.ts";
import { ChunkedRun } from "./plan_chunks.ts";
import type { RuntimeCore } from "./_core.ts";
import { corruptCopy, describeCopy, firstFailure, holdsHere, lost, whyGone } from "./_copies.ts";
import type { Part, RemoteReader, Sink } from "./_read_remote.ts";
import { readNeeded } from "./_part_reads.ts";
import type { AttachedBytes, AttachRequest, ReshapeMode } from "./requests.ts";
import { metrics } from "../observe/mod.ts";

/** Attaches fragment regions and layouts for one runtime. */
export class AttachReader {
  readonly #core: RuntimeCore;
  readonly #remote: RemoteReader;

  /** Creates the attach part of a runtime. */
  constructor(core: RuntimeCore, remote: RemoteReader) {
    this.#core = core;
    this.#remote = remote;
  }

  /**
   * The name server's answer for an attach. With a wait, the name server
   * looks the version up and, when it is not committed yet, waits for it in
   * the same call: a consumer waiting for its next version makes one round
   * trip, not a lookup, a wait and a lookup again.
   */
  async lookup(
    req: Pick<AttachRequest, "dataset" | "version" | "waitMs" | "createdAt">,
    fragment: string,
    bindings: Readonly<Record<string, number>>,
  ): ReturnType<NameService["attachFragments"]> {
    const names = this.#core.names;
    const query = { dataset: req.dataset, version: req.version, fragment, bindings };
    const found = req.waitMs === undefined
      ? await names.attachFragments(query)
      : await names.attachFragments(query, { waitMs: req.waitMs });
    if (
      req.createdAt !== undefined && found.createdAt !== undefined &&
      found.createdAt !== req.createdAt
    ) {
      throw new DatasetReplacedError(req.dataset, req.createdAt, found.createdAt);
    }
    return found;
  }

  /**
   * Builds `layout` from `sources`: local copies read from the tiers, remote
   * ones fetched over the data plane (reshaped where `reshape` says), into
   * `into` when given. Remote parts that only feed the plan arrive in pooled
   * scratch buffers, returned to the pool once the plan has run: the steady
   * state of a streaming consumer allocates nothing (bench/streaming_bench.ts).
   */
  async gather(
    version: number,
    sources: readonly SourceRecord[],
    layout: FragmentLayout,
    req: Pick<AttachRequest, "reshape" | "into"> & { readonly shared?: boolean },
  ): Promise<AttachedBytes> {
    const into = req.into;
    checkInto(into, version, sources, layout);
    // `auto` here: the copy's placement, else the runtime's setting, decides (RemoteReader).
    const mode = req.reshape ?? "auto";
    // A single remote source that arrives in the target layout (a whole copy,
    // or a reshape done at the source) needs no plan: it is received straight
    // into the result. A local copy is copied out, since callers may transfer
    // or change the buffer they get and the tier's copy must stay intact;
    // unless they only read it (`shared`: an HTTP answer), when a whole copy
    // in the target layout is answered as the tier holds it (tiers never
    // write into a buffer they keep: an overwrite stores a new one).
    const direct = sources.length === 1 &&
      (req.shared === true && into === undefined || !holdsHere(sources[0]!, this.#core.node));
    const sink = this.#sinks(layout, direct, into);
    if (sources.length === 1) {
      // One copy, the common attach: its failure is the attach's as it is.
      const part = await this.#readAny(sources[0]!, layout, mode, sink, into);
      try {
        return { version, layout, bytes: this.#assemble([part], layout, direct, into) };
      } finally {
        if (part.pooled) this.#core.scratch.give(part.bytes);
      }
    }
    const settled = await Promise.allSettled(
      sources.map((s) => this.#readAny(s, layout, mode, sink, into)),
    );
    const parts = settled.flatMap((r) => r.status === "fulfilled" ? [r.value] : []);
    try {
      if (parts.length < settled.length) throw firstFailure(settled, version);
      return { version, layout, bytes: this.#assemble(parts, layout, direct, into) };
    } finally {
      for (const p of parts) if (p.pooled) this.#core.scratch.give(p.bytes);
    }
  }

  /**
   * Fetches the parts of `layout` now and assembles them later: remote
   * parts arrive in scratch buffers as they are, and `finish(into)` runs
   * the plan straight into the caller's buffer when it takes the version,
   * one copy fewer than assembling into a buffer of our own and copying
   * that (bench/streaming_bench.ts). `release()` gives the parts back
   * unused. Either is called once.
   */
  async gatherLater(
    version: number,
    sources: readonly SourceRecord[],
    layout: FragmentLayout,
    req: Pick<AttachRequest, "reshape">,
  ): Promise<Gathered> {
    const mode = req.reshape ?? "auto";
    const sink = this.#sinks(layout, false, undefined);
    // A small copy whose bytes came with its notice is not fetched; the
    // plan copies them out, so the notice's bytes are never handed over.
    const settled = await Promise.allSettled(
      sources.map((s) => inlinePart(s) ?? this.#readAny(s, layout, mode, sink, undefined)),
    );
    const parts = settled.flatMap((r) => r.status === "fulfilled" ? [r.value] : []);
    let given = false;
    const release = () => {
      if (given) return;
      given = true;
      for (const p of parts) if (p.pooled) this.#core.scratch.give(p.bytes);
    };
    if (parts.length < settled.length) {
      release();
      throw firstFailure(settled, version);
    }
    return {
      version,
      layout,
      finish: (into) => {
        checkInto(into, version, sources, layout);
        try {
          return this.#assemble(parts, layout, false, into);
        } finally {
          release();
        }
      },
      release,
    };
  }

  /** Where each remote part of an attach into `layout` is received. */
  #sinks(
    layout: FragmentLayout,
    direct: boolean,
    into: Uint8Array | undefined,
  ): (want: FragmentLayout) => Sink {
    const { scratch, plans } = this.#core;
    return (want) => {
      if (!direct) return { bytes: scratch.take(want.byteLength), pooled: true };
      if (sameLayout(want, layout)) {
        return { bytes: into ?? new Uint8Array(want.byteLength), pooled: false };
      }
      // The only part, to be reshaped: the plan runs piece by piece while
      // the rest of the part is still on the wire.
      const chunks = plans.chunks(plans.plan([want], layout));
      const bytes = scratch.take(want.byteLength);
      const result = into ?? new Uint8Array(layout.byteLength);
      return { bytes, pooled: true, result, run: () => new ChunkedRun(chunks, bytes, result) };
    };
  }

  /** The attach's bytes from its parts: received as they are, or through the plan. */
  #assemble(
    parts: readonly Part[],
    layout: FragmentLayout,
    direct: boolean,
    into: Uint8Array | undefined,
  ): Uint8Array {
    if (parts.length === 1 && parts[0]!.result !== undefined) return parts[0]!.result;
    if (
      parts.length === 1 && !parts[0]!.pooled && direct && sameLayout(parts[0]!.layout, layout)
    ) {
      return parts[0]!.bytes;
    }
    const plan = this.#core.plans.plan(parts.map((p) => p.layout), layout);
    const out = into ?? new Uint8Array(layout.byteLength);
    executePlan(plan, parts.map((p) => p.bytes), out);
    metrics.reshapedBytes.inc(out.byteLength);
    return out;
  }

  /**
   * Reads a copy from this node when it holds one (the primary copy or a
   * replica), else from the node of the primary copy, then from the
   * replicas' nodes in turn while the ones before are down or lost it.
   */
  async #readAny(
    s: SourceRecord,
    target: FragmentLayout,
    mode: ReshapeMode,
    sink: (want: FragmentLayout) => Sink,
    into: Uint8Array | undefined,
  ): Promise<Part> {
    const node = this.#core.node;
    const places: CopyPlace[] = [{ node: s.node, tier: s.tier }, ...(s.replicas ?? [])];
    const own = places.find((p) => p.node === node);
    const order = own === undefined ? places : [own, ...places.filter((p) => p !== own)];
    let failure: unknown;
    for (const p of order) {
      const at = { ...s, node: p.node, tier: p.tier };
      try {
        return p.node === node
          ? await this.#readLocal(at, target, into)
          : await this.#remote.read(at, target, mode, sink);
      } catch (e) {
        // A copy lost here or at its node (a `LostError` from its data plane
        // arrives as one), or a node that does not answer: try the next place.
        if (!(e instanceof LostError || e instanceof UnavailableError)) throw e;
        failure ??= e;
      }
    }
    throw failure;
  }

  /**
   * Reads a copy this node holds, checking its size and checksum: only the
   * pieces `target` needs of it when its tier reads parts of copies
   * (`readNeeded`).
   */
  async #readLocal(
    s: SourceRecord,
    target: FragmentLayout,
    into: Uint8Array | undefined,
  ): Promise<Part> {
    const { node, tiers } = this.#core;
    const key = copyKey(s.dataset, s.version, s.fragment, s.bindings);
    // What the target needs of the copy, in the copy's types: all of it when it covers it whole.
    const cut = cutLayout(s.layout, target, "destination");
    const want = cut === undefined || coversWhole(cut, s.layout) ? s.layout : cut;
    const read = await readNeeded(this.#core, key, s.checksum, s.layout, want);
    if (read === undefined) {
      throw lost(
        new LostError(s.dataset, s.version, describeCopy(s), whyGone(s.tier, tiers.specs, node), {
          node,
        }),
      );
    }
    const { bytes, bad } = read;
    if (bytes.byteLength !== s.byteLength) {
      throw lost(corruptCopy(s, node, `${bytes.byteLength} bytes, not ${s.byteLength}`));
    }
    if (bad !== undefined) throw lost(corruptCopy(s, node, bad));
    if (into !== undefined && into.buffer === bytes.buffer) {
      throw new InvalidRequestError(
        `Cannot attach into a buffer that shares memory with copy '${key}' on node '${node}'`,
      );
    }
    return { layout: s.layout, bytes, pooled: false };
  }
}

/**
 * The part a source's inline bytes give (they came with a commit notice),
 * when they are the copy's: its size, and its checksum. Otherwise undefined,
 * and the copy is read as any other.
 */
function inlinePart(s: SourceRecord): Promise<Part> | undefined {
  const bytes = s.inline;
  if (bytes === undefined || bytes.byteLength !== s.byteLength || crc32(bytes) !== s.checksum) {
    return undefined;
  }
  metrics.inlineCopies.inc();
  return Promise.resolve({ layout: s.layout, bytes, pooled: false });
}

/** The parts of a version fetched ahead, assembled when the consumer takes it. */
export interface Gathered {
  readonly version: number;
  readonly layout: FragmentLayout;
  /** Assembles the version into `into` (exactly its size), or a new buffer, and gives the parts back. */
  finish(into?: Uint8Array): Uint8Array;
  /** Gives the parts back unused. */
  release(): void;
}

/** Refuses an `into` buffer that is not exactly the byte length of `layout`. */
function checkInto(
  into: Uint8Array | undefined,
  version: number,
  sources: readonly SourceRecord[],
  layout: FragmentLayout,
): void {
  if (into !== undefined && into.byteLength !== layout.byteLength) {
    throw new InvalidRequestError(
      `Cannot attach version ${version} of '${
        sources[0]?.dataset ?? "the dataset"
      }' into a buffer of ${into.byteLength} bytes: expected ${layout.byteLength}`,
    );
  }
}
