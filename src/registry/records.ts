/**
 * What the registry stores in KV and what its operations take and return.
 *
 * @module
 */

import type { FragmentLayout } from "../transform/layout.ts";
import type { FragmentRecord, NodeTier, SourceRecord } from "../name_service/name_service.ts";

export type { FragmentRecord, NodeTier, SourceRecord };

/** A dataset as stored under `["datasets", name]`. */
export interface DatasetRecord {
  /** Name. */
  readonly name: string;
  /** Description in the data language (canonical text when given as JSON). */
  readonly description: string;
  /** Committed versions kept. */
  readonly retention: number;
  /** Whether bytes are written through to the file tier. */
  readonly durable: boolean;
  /** Whether a region of a version may be published again. */
  readonly overwrite: boolean;
  /** Values of size variables. */
  readonly sizes: Readonly<Record<string, number>>;
  /** Creation time, ms since the epoch. */
  readonly createdAt: number;
  /** Nodes where its consumers will attach (placement input); absent when none were declared. */
  readonly consumers?: readonly string[];
  /** Set while the dataset is being deleted; a restart finishes the deletion. */
  readonly deleting?: boolean;
}

/** States of a version: `open` -> `committed` -> `retired`, or `open` -> `retired`. */
export type VersionState = "open" | "committed" | "retired";

/** A version as stored under `["versions", name, version]` and listed. */
export interface VersionRecord {
  /** Version number (>= 1). */
  readonly version: number;
  /** State. */
  readonly state: VersionState;
  /** Fragment copies registered in it. */
  readonly fragments: number;
  /** Bytes registered in it. */
  readonly bytes: number;
  /** When it was committed, ms since the epoch. */
  readonly committedAt?: number;
  /**
   * Sizes read from this version's published bytes, for size variables not
   * given when the dataset was created (absent until a publish carries one).
   */
  readonly sizes?: Readonly<Record<string, number>>;
}

/**
 * A version's record as stored in KV: the listed record, and the records of
 * the copies registered by its commit (`copies`), which then have no key of
 * their own. A copy's own key, when it has one, wins over the same region
 * here (a copy changed after its commit is written under its key).
 */
export interface StoredVersionRecord extends VersionRecord {
  /** Copies registered with the commit, carried in this record. */
  readonly copies?: readonly FragmentRecord[];
}

/**
 * Records of copies of one version registered in one write, stored under
 * `["packs", name, version, id]` in place of a key per copy. A copy's own
 * key, when it has one, wins over the same region here (a copy changed
 * after its registration is written under its key).
 */
export interface StoredPack {
  /** The copies' records. */
  readonly copies: readonly FragmentRecord[];
}

/**
 * Records of datasets created together, stored under `["dataset_packs",
 * id]` (ids rise); a dataset's own row (`["datasets", name]`) wins over its
 * record here.
 */
export interface StoredDatasetPack {
  /** The datasets' records. */
  readonly datasets: readonly DatasetRecord[];
}

/** A registered node, stored under `["nodes", id]` with its lease as `expireIn`. */
export interface NodeRecord {
  /** Node name. */
  readonly id: string;
  /** Where its runtime answers. */
  readonly url: string;
  /** Its tiers: capacities in bytes, and usage as of its last registration or renewal. */
  readonly tiers: readonly NodeTier[];
  /** Where its data plane listens (`host:port`), when it has one. */
  readonly wire?: string;
  /** When its lease ends, ms since the epoch. */
  readonly leaseUntil: number;
}

/** What `registerNode()` takes. */
export type NodeInput = Omit<NodeRecord, "leaseUntil">;

/** What `createDataset()` takes (the talk's "create object"). */
export interface CreateDatasetInput {
  /** Name: a letter, then up to 127 letters, digits, `_`, `.` or `-`. */
  readonly name: string;
  /** Description: text in the data language, or its JSON form. */
  readonly description?: string | object;
  /** Description in its JSON form (when `description` is not given). */
  readonly descriptionJson?: unknown;
  /** Committed versions kept (default: the registry's, 2). */
  readonly retention?: number;
  /** Write bytes through to the file tier (default false). */
  readonly durable?: boolean;
  /** Allow publishing a region of a version again (default false). */
  readonly overwrite?: boolean;
  /** Values of the description's size variables. */
  readonly sizes?: Readonly<Record<string, number>>;
  /** Nodes where consumers will attach it, for placement (at most 64 node names). */
  readonly consumers?: readonly string[];
}

/**
 * Items in one answer of a list (`GET /v1/datasets`, `GET
 * /v1/datasets/:name/versions`) when the request names no `limit`; also
 * the most versions `describeDataset` lists (the newest).
 */
export const DEFAULT_LIST_PAGE = 1000;

/** Most items one answer of a list holds (`limit` at most this). */
export const MAX_LIST_PAGE = 10_000;

/** A page of `listVersions()`: the versions above a version, at most so many. */
export interface VersionPage {
  /** Versions above this one (from the first when absent). */
  readonly after?: number;
  /** At most this many (all when absent). */
  readonly limit?: number;
}

/** A page of `listDatasets()`: the datasets after a name, at most so many. */
export interface DatasetPage {
  /** Datasets whose names sort after this one (from the first when absent). */
  readonly after?: string;
  /** At most this many (all when absent). */
  readonly limit?: number;
}

/** A dataset as `listDatasets()` shows it. */
export interface DatasetSummary {
  /** Name. */
  readonly name: string;
  /** Committed versions kept. */
  readonly retention: number;
  /** Whether bytes are written through to the file tier. */
  readonly durable: boolean;
  /** Whether regions may be published again. */
  readonly overwrite: boolean;
  /** Newest committed version, or null. */
  readonly latest: number | null;
  /** Creation time, ms since the epoch. */
  readonly createdAt: number;
}

/** A fragment declared by a dataset's description. */
export interface FragmentInfo {
  /** Fragment name. */
  readonly name: string;
  /** Region parameters, bound at publish and attach. */
  readonly params: readonly string[];
  /** Whether the description marks it read-only. */
  readonly readOnly: boolean;
}

/** A dataset as `describeDataset()` shows it. */
export interface DatasetDescription extends DatasetSummary {
  /** Description in the data language. */
  readonly description: string;
  /** Description in its JSON form. */
  readonly descriptionJson: unknown;
  /** Values of size variables given when it was created. */
  readonly sizes: Readonly<Record<string, number>>;
  /**
   * Size variables not given at creation: each version reads them from its
   * published bytes (`sizes` of each version).
   */
  readonly sizesPerVersion: readonly string[];
  /** Nodes where its consumers will attach. */
  readonly consumers: readonly string[];
  /** Fragments it declares (`dataset`, the whole dataset, is implicit). */
  readonly fragments: readonly FragmentInfo[];
  /** Bytes of the whole dataset in its own layout; null when its sizes differ per version. */
  readonly byteLength: number | null;
  /** Its versions, oldest first: the newest `DEFAULT_LIST_PAGE` of them. */
  readonly versions: readonly VersionRecord[];
  /** Versions older than those listed, when there are more (page through `listVersions`). */
  readonly versionsOmitted?: number;
}

/** What `attachFragments()` looks up (the registry side of "attach fragment"). */
export interface AttachQuery {
  /** Dataset name. */
  readonly dataset: string;
  /** A committed version, or the newest one. */
  readonly version: number | "latest";
  /** Fragment name (`dataset` for the whole dataset). */
  readonly fragment: string;
  /** Region parameters. */
  readonly bindings: Readonly<Record<string, number>>;
}

/** How `attachFragments()` waits for a version not committed yet. */
export interface AttachWait {
  /**
   * Wait this long (ms) for the version asked for, or a later one, to be
   * committed, and find the first committed one at or above it (for
   * `latest`, the first committed version of all): what an attach with a
   * wait asks, answered in one call.
   */
  readonly waitMs?: number;
}

/** What `attachFragments()` finds. */
export interface AttachResult {
  /** The version found. */
  readonly version: number;
  /** Layout of the requested region. */
  readonly layout: FragmentLayout;
  /** Published copies holding part of the region, with their layouts. */
  readonly sources: SourceRecord[];
  /** The size variables the version is laid out with: given at creation or read at publish. */
  readonly sizes: Readonly<Record<string, number>>;
  /**
   * When the dataset was created (ms since the epoch, unique per name on
   * its name server): a dataset deleted and created again under the same
   * name has another.
   */
  readonly createdAt?: number;
}

/**
 * What a batch's `lookup` answers: the version found, the byte length of
 * the region asked for, and the records of the copies holding part of it
 * (without their layouts).
 */
export interface LookupRecords {
  /** The version found. */
  readonly version: number;
  /** Bytes of the region in the layout asked for. */
  readonly byteLength: number;
  /** Published copies holding part of the region. */
  readonly sources: readonly FragmentRecord[];
}

/** What `publishFragment()` returns. */
export interface PublishResult {
  /** Whether this publish completed the dataset and so committed the version. */
  readonly committed: boolean;
  /** When that commit retired versions: their copies, whose bytes must be freed. */
  readonly retired?: FragmentRecord[];
}

/** What `commitVersion()` returns. */
export interface CommitResult {
  /** The version committed. */
  readonly version: number;
  /** Copies of the versions that retention retired: free their bytes. */
  readonly retired: FragmentRecord[];
}
