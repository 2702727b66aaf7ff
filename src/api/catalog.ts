/**
 * The registry operations the API exposes directly (everything that does not
 * move payload bytes).
 *
 * @module
 */

import type { CreateDatasetInput, DatasetPage, VersionPage } from "../registry/records.ts";

/** Dataset-level registry operations. */
export interface Catalog {
  /** Registers a dataset. */
  createDataset(input: CreateDatasetInput): Promise<unknown>;
  /**
   * Summaries of the datasets by name: every one, or a page (`after` a name,
   * at most `limit`).
   */
  listDatasets(page?: DatasetPage): Promise<readonly { readonly name: string }[]>;
  /** One dataset in full. */
  describeDataset(name: string): Promise<unknown>;
  /**
   * Deletes a dataset; returns the copies whose bytes must be freed. `force`
   * deletes it even while pipelines read it (passed on to the name server).
   */
  deleteDataset(
    name: string,
    options?: { readonly force?: boolean },
  ): Promise<readonly import("../name_service/name_service.ts").FragmentRecord[]>;
  /** Versions with their states, oldest first: all, or a page (`after` a version, at most `limit`). */
  listVersions(name: string, page?: VersionPage): Promise<readonly { readonly version: number }[]>;
  /** Many registry operations in one call, each with its own result. */
  batch(ops: readonly unknown[]): Promise<readonly unknown[]>;
  /** Commits a version; returns the copies of versions retention retired. */
  commitVersion(
    dataset: string,
    version: number,
  ): Promise<
    { readonly retired: readonly import("../name_service/name_service.ts").FragmentRecord[] }
  >;
}
