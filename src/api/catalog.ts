/**
 * The registry operations the API exposes directly (everything that does not
 * move payload bytes).
 *
 * @module
 */

/** Options of a new dataset, as the API receives them. */
export interface CreateDatasetInput {
  /** Dataset name. */
  readonly name: string;
  /** Description in the data language. */
  readonly description?: string;
  /** Description in its JSON form. */
  readonly descriptionJson?: unknown;
  /** Committed versions kept. */
  readonly retention?: number;
  /** Write bytes through to the file tier. */
  readonly durable?: boolean;
  /** Allow republishing a region of a version. */
  readonly overwrite?: boolean;
  /** Size variable bindings. */
  readonly sizes?: Readonly<Record<string, number>>;
  /** Nodes where consumers will attach it (placement input). */
  readonly consumers?: readonly string[];
}

/** Dataset-level registry operations. */
export interface Catalog {
  /** Registers a dataset. */
  createDataset(input: CreateDatasetInput): Promise<unknown>;
  /** Summaries of every dataset. */
  listDatasets(): Promise<readonly unknown[]>;
  /** One dataset in full. */
  describeDataset(name: string): Promise<unknown>;
  /**
   * Deletes a dataset; returns the copies whose bytes must be freed. `force`
   * deletes it even while pipelines read it (passed on to the name server).
   */
  deleteDataset(
    name: string,
    options?: { readonly force?: boolean },
  ): Promise<readonly import("../runtime/name_service.ts").FragmentRecord[]>;
  /** Versions with their states. */
  listVersions(name: string): Promise<readonly unknown[]>;
  /** Many registry operations in one call, each with its own result. */
  batch(ops: readonly unknown[]): Promise<readonly unknown[]>;
  /** Commits a version; returns the copies of versions retention retired. */
  commitVersion(
    dataset: string,
    version: number,
  ): Promise<{ readonly retired: readonly import("../runtime/name_service.ts").FragmentRecord[] }>;
}
