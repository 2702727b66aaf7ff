/**
 * What a runtime needs from the name server. The in-process registry
 * implements it directly; a runtime on another node will reach a remote name
 * server through the same interface.
 *
 * @module
 */

import type { ReshapeSite } from "../tiers/policy.ts";
import type { FragmentLayout } from "../transform/layout.ts";

/** How long a `block` subscriber holds its dataset's commits by default, in ms. */
export const DEFAULT_BLOCK_MS = 30_000;

/** The longest hold a `block` subscriber may ask for, in ms. */
export const MAX_BLOCK_MS = 3_600_000;

/** Where one copy of a fragment lives: a node and a tier of it. */
export interface CopyPlace {
  /** Node name. */
  readonly node: string;
  /** Tier name on that node. */
  readonly tier: string;
}

/** A published fragment copy, as the name server records it. */
export interface FragmentRecord {
  /** Dataset name. */
  readonly dataset: string;
  /** Version number. */
  readonly version: number;
  /** Fragment name (`dataset` for the whole-dataset layout). */
  readonly fragment: string;
  /** Region parameters the fragment was published with. */
  readonly bindings: Readonly<Record<string, number>>;
  /** Node holding the bytes. */
  readonly node: string;
  /** Tier holding the bytes. */
  readonly tier: string;
  /** Byte length of the copy. */
  readonly byteLength: number;
  /** CRC-32 of the bytes. */
  readonly checksum: number;
  /**
   * Where reshapes of this copy run when another node attaches it in another
   * layout, as the placement policy decided at publish (absent: the
   * attaching runtime's default).
   */
  readonly reshape?: ReshapeSite;
  /** Further copies of the same bytes on other nodes, placed by the policy. */
  readonly replicas?: readonly CopyPlace[];
}

/**
 * A copy a node is told to free (a release notice): which copy, and the
 * node holding it (a notice read back from a name server's KV names the
 * node it was kept for, and no replicas).
 */
export type ReleasedCopy = Pick<
  FragmentRecord,
  "dataset" | "version" | "fragment" | "bindings" | "node" | "replicas"
>;

/** A published fragment with its layout, as an attach lookup returns it. */
export interface SourceRecord extends FragmentRecord {
  /** Layout of the published bytes. */
  readonly layout: FragmentLayout;
  /**
   * The copy's bytes, when a commit notice carries them (small copies
   * whose publish carried them; a reader checks them against `checksum`
   * and fetches the copy when they do not match). Lookups never carry them.
   */
  readonly inline?: Uint8Array;
}

/**
 * Largest copy whose bytes a publish carries to the name server and a
 * commit notice carries to subscribers (`PublishOptions.inline`). Past it,
 * the base64 text of the bytes costs the name server more than the
 * consumer's fetch saves.
 */
export const INLINE_MAX_BYTES = 16 * 1024;

/** Options of `NameService.publishFragment`. */
export interface PublishOptions {
  /**
   * The copy's bytes, for a copy of at most `INLINE_MAX_BYTES`: the name
   * server (src/registry/inline_copies.ts) keeps them while the
   * dataset has subscribers and sends them with the commit notice, so
   * consumers need not fetch the copy. Never stored durably, and the
   * record still names the node's copy.
   */
  readonly inline?: Uint8Array;
}

/** Dataset settings a runtime acts on. */
export interface DatasetSettings {
  /** Dataset name. */
  readonly name: string;
  /** Whether bytes are written through to a persistent tier. */
  readonly durable: boolean;
  /** Nodes where its consumers will attach (placement input). */
  readonly consumers?: readonly string[];
  /**
   * The description, present when some size variable was not given at
   * creation: a publishing runtime reads those sizes from the bytes
   * (`publishedSizes()`), and the name server records them per version.
   */
  readonly description?: string;
  /** The sizes given at creation (with `description`). */
  readonly sizes?: Readonly<Record<string, number>>;
}

/** A node with a live lease, as the name server lists it. */
export interface NodeEntry {
  /** Node name. */
  readonly id: string;
  /** Where its HTTP API answers. */
  readonly url: string;
  /** Where its data plane listens (`host:port`), when it has one. */
  readonly wire?: string;
  /** When its lease ends, ms since the epoch. */
  readonly leaseUntil: number;
  /** Its tiers, with their usage when it last renewed its lease. */
  readonly tiers?: readonly NodeTier[];
}

/**
 * A tier of a node as its lease reports it: the capacity always, the rest
 * from runtimes that report their usage (what a placement policy needs to
 * place copies on that node).
 */
export interface NodeTier {
  /** Tier name. */
  readonly name: string;
  /** Capacity in bytes. */
  readonly capacity: number;
  /** Kind of store. */
  readonly kind?: string;
  /** Bytes held at the last renewal. */
  readonly used?: number;
  /** Bytes free at the last renewal. */
  readonly free?: number;
  /** Bytes the tier could take at the last renewal, spilling included (the policy's `room`). */
  readonly room?: number;
  /** Sustained bandwidth, bytes per second. */
  readonly bandwidth?: number;
  /** Latency of one access, seconds. */
  readonly latency?: number;
  /** Whether copies survive a restart of the runtime. */
  readonly persistent?: boolean;
}

/** A copy as the runtime names it to the name server: which region, held by which node. */
export type CopyRef = Pick<
  FragmentRecord,
  "dataset" | "version" | "fragment" | "bindings" | "node"
>;

/** What a subscriber to a fragment region of a dataset asks for. */
export interface SubscribeQuery {
  /** Dataset name (it need not exist yet). */
  readonly dataset: string;
  /** Fragment to look up in each committed version. */
  readonly fragment: string;
  /** Its bindings. */
  readonly bindings: Readonly<Record<string, number>>;
  /** First version wanted: committed versions from it on are pushed (default 1). */
  readonly from?: number;
  /** Most versions queued for this subscriber (1 to 1024, default 16). */
  readonly limit?: number;
  /**
   * What a full queue does: `drop-oldest` (default), `fail`, or `block`
   * (the dataset's commits wait for room, at most `blockMs` each time,
   * after which the subscription fails and the commits go on).
   */
  readonly policy?: string;
  /** With policy `block`: the longest hold of the commits, in ms (1 to 3 600 000, default 30 000). */
  readonly blockMs?: number;
  /**
   * A consumer group: subscribers of the dataset with the same group share
   * its versions, each version handed to one of them (`from` counts for the
   * group's first member only).
   */
  readonly group?: string;
  /** How the group picks a member: `first-free` (default) or `round-robin`; only with `group`. */
  readonly assign?: string;
}

/** A committed version pushed to a subscriber: the copies of its region, as a lookup answers. */
export interface CommitNotice {
  /** The committed version. */
  readonly version: number;
  /** The subscribed region's layout. */
  readonly layout: FragmentLayout;
  /** The copies that hold part of it. */
  readonly sources: readonly SourceRecord[];
  /** When the dataset was created. */
  readonly createdAt?: number;
  /** Versions dropped since the previous notice (the queue overflowed, or they were retired). */
  readonly dropped: number;
}

/** A subscription to the commits of a dataset. */
export interface CommitSubscription {
  /**
   * The next committed version, waiting up to `timeoutMs`: undefined when
   * none came in that time. Throws `BusyError` once a `fail` queue
   * overflowed, `ClosedError` once closed.
   */
  next(timeoutMs: number): Promise<CommitNotice | undefined>;
  /** Ends the subscription. */
  close(): void;
  /**
   * Resolves once the name server holds the subscription (absent: at once,
   * as in process): a small copy published after it comes with its commit
   * notice. Rejects when the subscription failed first.
   */
  readonly ready?: Promise<void>;
}

/** The name server operations a runtime calls. */
export interface NameService {
  /**
   * Pushes each commit of a dataset from `query.from` on, with the copies
   * of the subscribed region, through a bounded queue (absent: the name
   * service cannot push, and the runtime waits and looks up instead).
   */
  subscribe?(query: SubscribeQuery): CommitSubscription;
  /** Settings of a dataset; `NotFoundError` when unknown. */
  datasetSettings(name: string): Promise<DatasetSettings>;
  /**
   * The sizes a version is laid out with: those given at creation and those
   * recorded for the version from its published bytes (none yet for a
   * version nothing sized was published into).
   */
  versionSizes(dataset: string, version: number): Promise<Readonly<Record<string, number>>>;
  /**
   * The layout of a fragment with bindings (size checks happen against it).
   * The bindings may give size variables not given at creation.
   */
  fragmentLayout(
    dataset: string,
    fragment: string,
    bindings: Readonly<Record<string, number>>,
  ): Promise<FragmentLayout>;
  /** Registers a published copy; tells whether the version committed as a result. */
  publishFragment(
    record: FragmentRecord,
    options?: PublishOptions,
  ): Promise<{ readonly committed: boolean }>;
  /**
   * Finds the copies that hold a fragment region of a committed version.
   * With `waitMs`, a version not committed yet is waited for that long, and
   * the first committed version at or above it is found (for `latest`, the
   * first committed one): an attach that waits costs one call.
   */
  attachFragments(
    query: {
      readonly dataset: string;
      readonly version: number | "latest";
      readonly fragment: string;
      readonly bindings: Readonly<Record<string, number>>;
    },
    options?: { readonly waitMs?: number },
  ): Promise<
    {
      readonly version: number;
      readonly layout: FragmentLayout;
      readonly sources: readonly SourceRecord[];
      /** When the dataset was created: another dataset of the same name has another. */
      readonly createdAt?: number;
      /** The size variables the version is laid out with. */
      readonly sizes?: Readonly<Record<string, number>>;
    }
  >;
  /** Resolves with the first committed version >= `atLeast`. */
  waitForVersion(
    dataset: string,
    atLeast: number,
    options: { readonly timeoutMs: number },
  ): Promise<number>;
  /**
   * Subscribes to copies whose bytes must be freed (versions retired by any
   * commit, deleted datasets); returns the unsubscribe function. `replayed`:
   * the notices may have been handled before (read again after this
   * process or the name server restarted, their acknowledgement lost), so a
   * copy registered again since under the same key must be left alone.
   */
  onRelease(
    listener: (copies: readonly ReleasedCopy[], replayed?: boolean) => void,
  ): () => void;
  /** Nodes whose lease has not lapsed (a node missing here is down). */
  listNodes(): Promise<readonly NodeEntry[]>;
  /** Which of `copies` are registered as held by their node (see `Registry.heldCopies`). */
  heldCopies(copies: readonly CopyRef[]): boolean[] | Promise<boolean[]>;
  /**
   * Records that a copy now lives on another tier of its node (a spill or a
   * flush moved it); false when the copy is not registered (any more).
   */
  relocateFragment(copy: CopyRef, tier: string): Promise<boolean>;
  /**
   * Records a further copy of a registered fragment on `copy.node` (which
   * fetched and stored it in `tier`); false when the fragment is not
   * registered (any more), and the caller frees what it stored.
   */
  addReplica(copy: CopyRef, tier: string): Promise<boolean>;
  /**
   * Forgets the copy `copy.node` holds of a registered fragment, once
   * another copy of it is registered: the next replica becomes the primary
   * copy. False (nothing changes) when it is the only copy or unknown.
   */
  dropCopy(copy: CopyRef): Promise<boolean>;
  /** Commits a version; returns the copies of versions retention retired. */
  commitVersion(
    dataset: string,
    version: number,
  ): Promise<{ readonly version: number; readonly retired: readonly FragmentRecord[] }>;
}
