/**
 * Deployed transform functions: deploy (check, type-check, dry run, store an
 * immutable version), aliases, and calls on dataset fragments in sandbox
 * processes. `FunctionService` composes the deployments (`_deployments.ts`,
 * `_dry_run.ts`) and the calls and jobs (`_call_runner.ts`), which reach
 * sandboxes through `_sandbox_request.ts`. See docs/functions.md.
 *
 * @module
 */

import { InvalidConfigError, type StrataError } from "../errors.ts";
import type { AttachQuery, DatasetDescription, SourceRecord } from "../registry/records.ts";
import type { AttachedBytes, PublishRequest } from "../runtime/runtime.ts";
import type { FragmentLayout } from "../transform/layout.ts";
import type { Loadable, PoolOptions } from "./pool.ts";
import { SandboxPool } from "./pool.ts";
import type { RunJob, RunOutcome } from "./run_job.ts";
import type { FunctionStore, VersionRecord } from "./store.ts";
import type { TypeChecker } from "./typecheck.ts";
import { Deployments, type FunctionDescription } from "./_deployments.ts";
export type { FunctionDescription } from "./_deployments.ts";
import { CallRunner, type Unit, type UnitRequest } from "./_call_runner.ts";

/** What the service needs from the registry. */
export interface FunctionCatalog {
  /** A dataset's description text, sizes and creation time. */
  describeDataset(name: string): Promise<DatasetDescription>;
  /** The copies of a committed version that meet a region (`waitMs`: wait for it to be committed). */
  attachFragments(query: AttachQuery, options?: { readonly waitMs?: number }): Promise<{
    readonly version: number;
    readonly sources: readonly SourceRecord[];
    /** The sizes the version is laid out with (they differ per version when read at publish). */
    readonly sizes?: Readonly<Record<string, number>>;
  }>;
}

/** What the service needs from the node runtime. */
export interface FunctionRuntime {
  /** This node's name (where runs handed to it ran). */
  readonly node?: string;
  /** Attaches a layout of a committed version. */
  attachLayout(
    req: {
      dataset: string;
      version: number | "latest";
      waitMs?: number;
      /** Where a reshape of remote copies runs. */
      reshape?: "source" | "destination";
      /** The dataset's creation time the layout was made for (see `DatasetReplacedError`). */
      createdAt?: number;
    },
    layout: FragmentLayout,
  ): Promise<AttachedBytes>;
  /** Publishes a fragment (the outputs of runs handed to this node). */
  publish?(req: PublishRequest): Promise<unknown>;
}

/**
 * What calls read of the deployments: the store itself on the name server,
 * or a reader of another process's store (`RemoteFunctions`) on a runtime.
 */
export type FunctionLookup = Pick<
  FunctionStore,
  "getFunction" | "getVersion" | "getSource" | "aliases"
>;

/** Options of the service. */
export interface FunctionServiceOptions {
  /**
   * Where deployments live. Without one the service only runs functions
   * (read through `lookup`); deploys and alias moves are refused.
   */
  readonly store?: FunctionStore;
  /** Where calls read deployments when there is no `store`. */
  readonly lookup?: FunctionLookup;
  /** The registry. */
  readonly catalog: FunctionCatalog;
  /**
   * The node runtime. Without one (a name server holds no data) calls and
   * invocations are refused: they are handed to a runtime.
   */
  readonly runtime?: FunctionRuntime;
  /** The sandbox process pool (one is made, and closed with the service, when absent). */
  readonly pool?: SandboxPool;
  /** Options of the pool the service makes when `pool` is absent. */
  readonly poolOptions?: PoolOptions;
  /** The type checker; without one, deploys are not type-checked (recorded as `skipped`). */
  readonly typeChecker?: TypeChecker;
}

/** A deployed version resolved for calls. */
export interface Resolved {
  /** Its record. */
  readonly record: VersionRecord;
  /** What the pool loads. */
  readonly module: Loadable;
}

/** The result of a call or an invocation. */
export interface CallResult {
  /** The function version that ran. */
  readonly function: { readonly name: string; readonly version: number; readonly digest: string };
  /** The source dataset and the version it read. */
  readonly source: { readonly dataset: string; readonly version: number };
  /** The JSON text of a value result. */
  readonly json?: string;
  /** The bytes of a dataset result, in `layout`. */
  readonly bytes?: Uint8Array;
  /** Their layout. */
  readonly layout?: FragmentLayout;
  /** Log lines of the calls. */
  readonly logs: readonly string[];
  /** Calls made. */
  readonly calls: number;
}

/** An invocation on stored data. */
export interface InvokeRequest {
  /** Alias or version of the function (default `latest`). */
  readonly use?: string | number;
  /** Source dataset. */
  readonly dataset: string;
  /** Source version (default `latest`). */
  readonly version?: number | "latest";
  /** Parameters of the input fragment (the region). */
  readonly params?: Readonly<Record<string, number>>;
  /** Run once per published fragment of the version and merge the results. */
  readonly each?: boolean;
  /** Arguments (`ctx.args`). */
  readonly args?: unknown;
  /** Wait this long for the version to be committed. */
  readonly waitMs?: number;
}

/**
 * The function service of one node.
 *
 * @example
 * ```ts ignore
 * const functions = new FunctionService({ store, catalog: registry, runtime });
 * await functions.deploy("histogram", source);
 * const r = await functions.invoke("histogram", { dataset: "particles", each: true });
 * ```
 */
export class FunctionService {
  readonly #pool: SandboxPool;
  readonly #ownsPool: boolean;
  readonly #deployments: Deployments;
  readonly #calls: CallRunner;

  /** Creates the service. */
  constructor(options: FunctionServiceOptions) {
    const lookup = options.store ?? options.lookup;
    if (lookup === undefined) {
      throw new InvalidConfigError("A function service needs a store or a lookup");
    }
    this.#ownsPool = options.pool === undefined;
    this.#pool = options.pool ?? new SandboxPool(options.poolOptions);
    this.#deployments = new Deployments({
      store: options.store,
      lookup,
      pool: this.#pool,
      checker: options.typeChecker,
    });
    this.#calls = new CallRunner({
      deployments: this.#deployments,
      catalog: options.catalog,
      runtime: options.runtime,
      pool: this.#pool,
    });
  }

  /**
   * The sandbox pool's processes (with a function loaded, spare) and the
   * calls waiting for one: what `/metrics` shows.
   *
   * @example
   * ```ts ignore
   * const { workers, spares, waiting } = functions.poolStats;
   * ```
   */
  get poolStats(): { workers: number; spares: number; waiting: number } {
    return this.#pool.stats;
  }

  /** Starts the spare sandbox processes ahead of the first call. */
  warm(): void {
    this.#pool.warm();
  }

  /** Tells the service which functions pipelines use, so they are not deleted under them. */
  usedBy(lookup: (name: string) => string | undefined): void {
    this.#deployments.usedBy(lookup);
  }

  /**
   * Deploys a new version of `name` from its TypeScript source: checks the
   * source's imports, type-checks it, loads it in a sandbox, checks its
   * declaration and dry-runs it on a sample of its declared input (and
   * merges two sample results when it exports `merge`). Only then is the
   * version stored, `latest` and `aliases` pointed at it. A source equal to
   * the newest version's, with the same limits, answers that version with
   * `created: false`.
   */
  deploy(
    name: string,
    source: string,
    options: { readonly limits?: unknown; readonly aliases?: readonly string[] } = {},
  ): Promise<VersionRecord & { readonly created: boolean }> {
    return this.#deployments.deploy(name, source, options);
  }

  /** Every function with its newest version and aliases. */
  list(): Promise<{ name: string; latest: number; aliases: Record<string, number> }[]> {
    return this.#deployments.list();
  }

  /** A function: its versions (without sources) and aliases. */
  describe(name: string): Promise<FunctionDescription> {
    return this.#deployments.describe(name);
  }

  /** One version with its source. */
  version(name: string, version: number): Promise<VersionRecord & { source: string }> {
    return this.#deployments.version(name, version);
  }

  /** Points an alias at a version (a rollback moves an alias back). */
  setAlias(name: string, alias: string, version: number): Promise<void> {
    return this.#deployments.setAlias(name, alias, version);
  }

  /** Removes an alias. */
  deleteAlias(name: string, alias: string): Promise<void> {
    return this.#deployments.deleteAlias(name, alias);
  }

  /** Deletes a version no alias points at. */
  deleteVersion(name: string, version: number): Promise<void> {
    return this.#deployments.deleteVersion(name, version);
  }

  /** Deletes a function that no pipeline uses. */
  deleteFunction(name: string): Promise<void> {
    return this.#deployments.deleteFunction(name);
  }

  /** Resolves an alias or version number of `name`. */
  resolve(name: string, use: string | number = "latest"): Promise<Resolved> {
    return this.#deployments.resolve(name, use);
  }

  /**
   * Runs a function on stored data: on one region of a committed version,
   * or (`each`) on every published fragment of it, merged into one value.
   */
  invoke(name: string, req: InvokeRequest): Promise<CallResult> {
    return this.#calls.invoke(name, req);
  }

  /**
   * The units of a per-fragment run: one per published copy of the version,
   * its parameters bound from the copy's by name (a function whose input
   * takes none runs once on the whole input). `waitMs`: wait that long for
   * the version (or, for `latest`, any version) to be committed.
   */
  units(
    fn: Resolved,
    dataset: string,
    version: number | "latest",
    options: { readonly waitMs?: number } = {},
  ): Promise<{ version: number; units: Unit[]; producers: string[]; bytes: number }> {
    return this.#calls.units(fn, dataset, version, options);
  }

  /** Runs the function on one region of a version: attach, call, check the result. */
  runUnit(fn: Resolved, req: UnitRequest): Promise<CallResult> {
    return this.#calls.runUnit(fn, req);
  }

  /** Merges value results (JSON texts) with the function's `merge`, in its sandbox. */
  reduce(fn: Resolved, values: readonly string[]): Promise<string> {
    return this.#calls.reduce(fn, values);
  }

  /**
   * Runs a job handed to this node: the exact function version (its digest
   * checked) on each unit of the source version, two calls at a time. Value
   * results are merged into one; dataset results are published here, into
   * the job's output, each as soon as it is computed. Never throws: a
   * failure is an outcome naming its error and the units published before it.
   */
  runJob(job: RunJob): Promise<RunOutcome> {
    return this.#calls.runJob(job);
  }

  /**
   * Calls a function on arrays the caller holds, many calls per message to
   * its sandbox processes. Each input names the declared input's fields (types must
   * match; lengths are free). Results are in input order, each a value or
   * the call's error.
   */
  callMany(
    name: string,
    inputs: readonly Readonly<Record<string, ArrayBufferView>>[],
    options: { readonly use?: string | number; readonly args?: unknown; readonly batch?: number } =
      {},
  ): Promise<({ ok: true; value: unknown } | { ok: false; error: StrataError })[]> {
    return this.#calls.callMany(name, inputs, options);
  }

  /** Kills the sandbox processes (when the service made its pool); resolves once they stopped. */
  close(): Promise<void> {
    return this.#ownsPool ? this.#pool.close() : Promise.resolve();
  }

  /** Closes it (`await using`); see `close()`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
