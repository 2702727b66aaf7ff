/**
 * Publishing a copy: sized from its bytes, stored where the placement
 * policy says, registered in the order publishes of its dataset were
 * called, and spread to the other nodes the policy chose.
 *
 * @module
 */

import { SizeMismatchError } from "../errors.ts";
import type { PlacedFragment } from "../tiers/policy.ts";
import type { StagedFile } from "../tiers/tier.ts";
import type { Placement, Stored } from "../tiers/tier_set.ts";
import { copyKey, stagedKey } from "../tiers/copy_keys.ts";
import {
  type DatasetSettings,
  type FragmentRecord,
  INLINE_MAX_BYTES,
} from "../name_service/name_service.ts";
import { checksum, checksumFile } from "./checksum.ts";
import { PIECE_BYTES, PIECED_MIN_BYTES } from "./piece_sums.ts";
import type { PublishedSizes } from "./published_sizes.ts";
import { type Turn, Turns } from "./turns.ts";
import type { RuntimeCore } from "./_core.ts";
import { placedFragment, refused } from "./_copies.ts";
import { type Link, placementNodes } from "./_placement_nodes.ts";
import type { Replicas } from "./_replicas.ts";
import type { PublishRequest } from "./requests.ts";

/** What a publish answers. */
export type Published = { committed: boolean; record: FragmentRecord };

/** A publish whose bytes a file of the node holds (`Runtime.publishFile`). */
export type FilePublishRequest = Omit<PublishRequest, "bytes"> & { readonly file: StagedFile };

/** A copy being published, before its checksum and tier are known. */
type Unregistered = Omit<FragmentRecord, "checksum" | "tier">;

/** The publish part of a runtime. */
export class Publisher {
  readonly #core: RuntimeCore;
  readonly #sizes: PublishedSizes;
  readonly #replicas: Replicas;
  readonly #link: Link;
  /** Publishes in line to be registered, by dataset. */
  readonly #turns = new Turns();

  /** Creates the publish part of a runtime. */
  constructor(
    core: RuntimeCore,
    options: { readonly sizes: PublishedSizes; readonly replicas: Replicas; readonly link: Link },
  ) {
    this.#core = core;
    this.#sizes = options.sizes;
    this.#replicas = options.replicas;
    this.#link = options.link;
  }

  /**
   * Stores a fragment copy where the placement policy says and registers it.
   * Concurrent publishes of a dataset are registered in the order they were called.
   */
  async publish(req: PublishRequest): Promise<Published> {
    // Their CRC-32s may finish in another order: the turn keeps the versions
    // of a producer that publishes ahead committing in its order.
    const turn = this.#turns.take(req.dataset);
    try {
      return await this.#publish(req, turn);
    } finally {
      turn.end();
    }
  }

  /**
   * Publishes the copy a file of the node holds, as `publish` publishes
   * bytes, without reading it into memory: its CRC-32 is read from the
   * file in pieces, the tiers copy or move the file (`TierSet.storeFile`).
   * A fragment sized from its bytes, or an overwrite, reads the file and
   * publishes its bytes. A file left at its path is the caller's to remove.
   */
  async publishFile(req: FilePublishRequest): Promise<Published> {
    const turn = this.#turns.take(req.dataset);
    try {
      return await this.#publishFile(req, turn);
    } finally {
      turn.end();
    }
  }

  async #publishFile(req: FilePublishRequest, turn: Turn): Promise<Published> {
    const { names, tiers, node } = this.#core;
    const settings = await names.datasetSettings(req.dataset);
    const readsSizes = settings.description !== undefined &&
      this.#sizes.layoutBindings(settings, { fragment: req.fragment, bindings: {} }, {}) ===
        undefined;
    const key = copyKey(req.dataset, req.version, req.fragment, req.bindings);
    if (readsSizes || tiers.holds(key)) {
      return await this.#publish({ ...req, bytes: await readStaged(req.file, req.fragment) }, turn);
    }
    const layout = await names.fragmentLayout(req.dataset, req.fragment, req.bindings);
    if (req.file.byteLength !== layout.byteLength) {
      throw new SizeMismatchError(req.fragment, layout.byteLength, req.file.byteLength);
    }
    const placed = placedFragment({ ...req, bytes: req.file }, settings);
    // Opened before the tiers may move it: the CRC-32 reads the file the tiers store.
    const file = await Deno.open(req.file.path);
    // The same reads give the checksums of its pieces, for attaches that need part of it.
    const pieces = req.file.byteLength >= PIECED_MIN_BYTES
      ? new Uint32Array(Math.ceil(req.file.byteLength / PIECE_BYTES))
      : undefined;
    const sum = checksumFile(file, req.file.byteLength, req.fragment, {
      ...(pieces === undefined ? {} : { pieces, pieceBytes: PIECE_BYTES }),
    }).finally(() => file.close());
    if (pieces !== undefined) {
      sum.then((s) => this.#core.staged.notePieces(key, s, pieces), () => {});
    }
    const copy: Unregistered = {
      dataset: req.dataset,
      version: req.version,
      fragment: req.fragment,
      bindings: { ...req.bindings },
      node,
      byteLength: req.file.byteLength,
    };
    try {
      return await this.#publishNew(
        key,
        (placement) => tiers.storeFile(key, req.file, placed, placement),
        copy,
        placed,
        sum,
        turn,
      );
    } finally {
      await sum.catch(() => {});
    }
  }

  async #publish(req: PublishRequest, turn: Turn): Promise<Published> {
    const { names, tiers, node } = this.#core;
    const settings = await names.datasetSettings(req.dataset);
    const bindings = await this.#bindings(req, settings);
    const layout = await names.fragmentLayout(req.dataset, req.fragment, bindings);
    if (req.bytes.byteLength !== layout.byteLength) {
      throw new SizeMismatchError(req.fragment, layout.byteLength, req.bytes.byteLength);
    }
    const key = copyKey(req.dataset, req.version, req.fragment, bindings);
    const placed = placedFragment({ ...req, bindings }, settings);
    // The CRC-32 runs in pieces while the copy is placed and stored, so the
    // data plane keeps serving earlier versions meanwhile.
    const sum = checksum(req.bytes);
    const copy: Unregistered = {
      dataset: req.dataset,
      version: req.version,
      fragment: req.fragment,
      bindings: { ...bindings },
      node,
      byteLength: req.bytes.byteLength,
    };
    // A small copy's bytes go to the name server with its record, for the
    // commit notices of the dataset's subscribers (inline_copies.ts).
    const inline = req.bytes.byteLength <= INLINE_MAX_BYTES ? req.bytes : undefined;
    if (tiers.holds(key)) {
      return await this.#overwrite(key, req.bytes, copy, placed, sum, turn, inline);
    }
    const bytes = req.bytes;
    return await this.#publishNew(
      key,
      (placement) => tiers.store(key, bytes, placed, placement),
      copy,
      placed,
      sum,
      turn,
      inline,
    );
  }

  /** The copy's bindings: sizes read from the bytes are named in them (and in its key). */
  async #bindings(
    req: PublishRequest,
    settings: DatasetSettings,
  ): Promise<Readonly<Record<string, number>>> {
    if (settings.description === undefined) return req.bindings;
    return this.#sizes.bindingsOf(
      settings,
      req,
      req.bytes,
      await this.#core.names.versionSizes(req.dataset, req.version),
    );
  }

  /** Publishes a copy of a key the tiers do not hold: store, register, settle, spread. */
  async #publishNew(
    key: string,
    store: (placement: Placement) => Promise<Stored>,
    copy: Unregistered,
    placed: PlacedFragment,
    sum: Promise<number>,
    turn: Turn,
    inline?: Uint8Array,
  ): Promise<Published> {
    const tiers = this.#core.tiers;
    const others = placementNodes(await this.#core.peers.nodes(), this.#core.node, this.#link);
    const placement = tiers.place(placed, others);
    const stored = await store(placement);
    let checksum: number;
    try {
      checksum = await sum;
    } catch (e) {
      // A staged file that changed while it was read: nothing of it stays.
      await tiers.deleteIf(key, stored.generation);
      throw e;
    }
    const record: FragmentRecord = {
      ...copy,
      checksum,
      tier: stored.primary,
      // Without a site, each attach decides (`auto`).
      ...(placement.reshape === "auto" ? {} : { reshape: placement.reshape }),
    };
    // Only our bytes (a racing publish of the same region may have stored
    // its own since), and only when the name server surely did not record
    // them: a record it may have written must find its bytes.
    const { committed } = await this.#register(record, turn, async () => {
      await tiers.deleteIf(key, stored.generation);
    }, inline);
    const settled = await this.#settle(record, tiers.primaryOf(key));
    return { committed, record: await this.#replicas.spread(settled, placement) };
  }

  /**
   * Publishes a copy of a key the tiers hold already (an overwrite, or a
   * publish racing one of the same region). The old bytes stay under the key
   * until the record names the new ones, which wait meanwhile under their
   * staged key (`stagedKey`): at every moment, and after a crash at any
   * point, the bytes the registry's record names are on a tier, and readers
   * find them by the record's checksum (`StagedCopies.read`). Order: 1. the
   * new bytes are stored under the staged key; 2. the copy is registered
   * (the name server refuses it unless the dataset allows overwrite); 3. the
   * new bytes replace the old under the key; 4. the staged copy is removed.
   */
  async #overwrite(
    key: string,
    bytes: Uint8Array,
    copy: Unregistered,
    placed: PlacedFragment,
    sum: Promise<number>,
    turn: Turn,
    inline?: Uint8Array,
  ): Promise<Published> {
    const { tiers, staged } = this.#core;
    const placement = tiers.place(placed);
    const checksum = await sum;
    const stagedAt = stagedKey(key, checksum);
    const early = await tiers.store(stagedAt, bytes, placed, placement);
    staged.note(stagedAt);
    const record: FragmentRecord = { ...copy, checksum, tier: early.primary };
    const { committed } = await this.#register(record, turn, async () => {
      if (await tiers.deleteIf(stagedAt, early.generation)) staged.forget(stagedAt);
    }, inline);
    const stored = await tiers.store(key, bytes, placed, placement);
    if (await tiers.deleteIf(stagedAt, early.generation)) staged.forget(stagedAt);
    return { committed, record: await this.#settle(record, stored.primary) };
  }

  /**
   * Registers a copy once the publishes of its dataset called before have
   * asked for theirs; `undo` runs when the name server refused it. `inline`:
   * the bytes of a small copy, sent along.
   */
  async #register(
    record: FragmentRecord,
    turn: Turn,
    undo: () => Promise<void>,
    inline?: Uint8Array,
  ): Promise<{ readonly committed: boolean }> {
    try {
      await turn.ready;
      const registered = this.#core.names.publishFragment(
        record,
        inline === undefined ? undefined : { inline },
      );
      turn.end();
      return await registered;
    } catch (e) {
      if (refused(e)) await undo();
      throw e;
    }
  }

  /** Makes the registry name `tier` for a just-registered copy when a spill moved it meanwhile. */
  async #settle(record: FragmentRecord, tier: string | undefined): Promise<FragmentRecord> {
    if (tier === undefined || tier === record.tier) return record;
    await this.#core.names.relocateFragment(record, tier);
    return { ...record, tier };
  }
}

/** A staged file's bytes, checked against its size. */
async function readStaged(file: StagedFile, fragment: string): Promise<Uint8Array> {
  const bytes = await Deno.readFile(file.path);
  if (bytes.byteLength !== file.byteLength) {
    throw new SizeMismatchError(fragment, file.byteLength, bytes.byteLength);
  }
  return bytes;
}
