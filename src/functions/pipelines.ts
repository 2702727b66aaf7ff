/**
 * Pipelines: on each commit of a source dataset, run a function on the
 * version (once, or once per published fragment) and publish its output into
 * a derived dataset at the same version number, or keep the merged value.
 * The commit only queues the run: a pipeline never delays its producer.
 * Queues live in memory; when the service opens, each pipeline queues the
 * committed versions it has not finished a run of.
 *
 * @module
 */

import {
  ConflictError,
  errorFromCode,
  InvalidRequestError,
  NotFoundError,
  UnavailableError,
} from "../errors.ts";
import type { CreateDatasetInput, DatasetDescription } from "../registry/records.ts";
import { decidePlacement, type RunPlacementPolicy } from "./placement.ts";
import { formsCycle, parsePipelineSpec, type PipelineSpec } from "./pipeline_spec.ts";
import { RunDispatcher, runTimeoutMs } from "./dispatch.ts";
import type { RunOutcome } from "./run_job.ts";
import { dispatchInOrder, ensureOutput, runJobOf } from "./_pipeline_run.ts";
import type { FunctionService } from "./service.ts";
import type {
  FunctionStore,
  Lineage,
  PipelineRecord,
  PlacementRecord,
  RunRecord,
} from "./store.ts";
import { log, metrics } from "../observe/mod.ts";

/** What pipelines need from the registry. */
export interface PipelineCatalog {
  /** Subscribes to commits; returns the unsubscribe function. */
  onCommit(listener: (dataset: string, version: number) => void): () => void;
  /** A dataset, or `NotFoundError`. */
  describeDataset(name: string): Promise<DatasetDescription>;
  /** Creates a derived dataset. */
  createDataset(input: CreateDatasetInput): Promise<unknown>;
  /** Live nodes, with where their runtimes answer. */
  listNodes(): Promise<readonly { readonly id: string; readonly url: string }[]>;
  /** Commits a version (the derived dataset's, once every unit is published). */
  commitVersion(dataset: string, version: number): Promise<unknown>;
  /**
   * Makes `onCommit` hear `dataset`'s commits, when it does not anyway (a
   * dataset of another name server); returns the function that stops it.
   */
  follow?(dataset: string): () => void;
}

/** What pipelines need from a runtime in their own process. */
export interface PipelineRuntime {
  /** This node's name. */
  readonly node: string;
}

/** Options of the pipeline service. */
export interface PipelineServiceOptions {
  /** Where pipelines, runs, results and lineage live. */
  readonly store: FunctionStore;
  /** The functions. */
  readonly functions: FunctionService;
  /** The registry. */
  readonly catalog: PipelineCatalog;
  /**
   * The runtime of this process, when it has one (`strata serve`): runs
   * placed on its node run here, through `functions`.
   */
  readonly runtime?: PipelineRuntime;
  /**
   * Where runs go. Default: this process's runtime for its own node, the
   * other live nodes' runtimes over HTTP (`POST /v1/runs`).
   */
  readonly dispatch?: RunDispatcher;
  /** Bearer token of the other runtimes (for the default dispatcher). */
  readonly token?: string;
  /** The placement policy (default `decidePlacement`). */
  readonly placement?: RunPlacementPolicy;
}

/** A pipeline with its recent runs. */
export interface PipelineStatus extends PipelineRecord {
  /** Source versions waiting for a run. */
  readonly queued: readonly number[];
  /** The version being run, or null. */
  readonly running: number | null;
  /** The newest runs of the source dataset as it is now, newest first. */
  readonly runs: readonly RunRecord[];
  /**
   * The newest runs of source datasets of that name deleted since (each with
   * `deletedSource`), newest dataset first: a dataset created again under
   * the name is another, and its runs start afresh in `runs`.
   */
  readonly deletedSourceRuns: readonly RunRecord[];
}

interface Live {
  record: PipelineRecord;
  readonly queue: number[];
  running: number | null;
  loop: Promise<void> | undefined;
  /** Stops hearing the source's commits. */
  unfollow: () => void;
}

/**
 * The pipelines of one service.
 *
 * @example
 * ```ts ignore
 * const pipelines = await PipelineService.open({ store, functions, catalog: registry, runtime });
 * await pipelines.put("energies", { source: "particles", function: "histogram", use: "prod" });
 * ```
 */
export class PipelineService {
  readonly #store: FunctionStore;
  readonly #functions: FunctionService;
  readonly #catalog: PipelineCatalog;
  readonly #dispatch: RunDispatcher;
  readonly #policy: RunPlacementPolicy;
  readonly #live = new Map<string, Live>();
  readonly #sleeps = new Set<() => void>();
  #unsubscribe: () => void = () => {};
  #closed = false;

  private constructor(options: PipelineServiceOptions) {
    this.#store = options.store;
    this.#functions = options.functions;
    this.#catalog = options.catalog;
    const runtime = options.runtime;
    const functions = options.functions;
    this.#dispatch = options.dispatch ?? new RunDispatcher({
      ...(runtime === undefined
        ? {}
        : { local: { node: runtime.node, run: (job) => functions.runJob(job) } }),
      nodes: () => options.catalog.listNodes(),
      ...(options.token === undefined ? {} : { token: options.token }),
    });
    this.#policy = options.placement ?? decidePlacement;
  }

  /** Loads the stored pipelines and starts listening for commits. */
  static async open(options: PipelineServiceOptions): Promise<PipelineService> {
    const s = new PipelineService(options);
    for (const record of await s.#store.listPipelines()) {
      s.#live.set(record.name, {
        record,
        queue: [],
        running: null,
        loop: undefined,
        unfollow: s.#follow(record.source),
      });
    }
    s.#unsubscribe = options.catalog.onCommit((dataset, version) => s.#committed(dataset, version));
    for (const p of s.#live.values()) await s.#catchUp(p);
    options.functions.usedBy((name) => {
      for (const p of s.#live.values()) if (p.record.function === name) return p.record.name;
      return undefined;
    });
    return s;
  }

  /**
   * Creates or replaces a pipeline. The function (by its alias or version)
   * must exist; a function with a dataset output needs `output`, the derived
   * dataset, which is created from the function's output description when
   * missing. Pipelines may feed each other, but not in a loop.
   */
  async put(name: string, body: unknown): Promise<PipelineRecord> {
    const spec = parsePipelineSpec(name, body);
    const others = [...this.#live.values()].map((p) => p.record);
    if (formsCycle(spec, others)) {
      throw new ConflictError(
        `Pipeline '${name}' would feed its own source '${spec.source}' through other pipelines`,
      );
    }
    const fn = await this.#functions.resolve(spec.function, spec.use);
    const output = fn.record.declaration.output;
    if (output.kind === "value" && spec.output !== undefined) {
      throw new InvalidRequestError(
        `Invalid pipeline '${name}': function '${spec.function}' returns a value, so the pipeline has no output dataset`,
      );
    }
    if (output.kind === "dataset" && spec.output === undefined) {
      throw new InvalidRequestError(
        `Invalid pipeline '${name}': function '${spec.function}' outputs a dataset, so the pipeline needs 'output', its name`,
      );
    }
    try {
      await this.#catalog.describeDataset(spec.source);
    } catch (e) {
      if (!(e instanceof NotFoundError)) throw e;
      throw new NotFoundError(
        `Cannot create pipeline '${name}': its source dataset '${spec.source}' does not exist; create it first`,
      );
    }
    if (spec.output !== undefined) await ensureOutput(this.#catalog, spec, fn);
    const existing = this.#live.get(name);
    const record: PipelineRecord = { ...spec, createdAt: existing?.record.createdAt ?? Date.now() };
    await this.#store.putPipeline(record);
    if (existing !== undefined) {
      if (existing.record.source !== record.source) {
        existing.unfollow();
        existing.unfollow = this.#follow(record.source);
      }
      existing.record = record;
    } else {
      this.#live.set(name, {
        record,
        queue: [],
        running: null,
        loop: undefined,
        unfollow: this.#follow(record.source),
      });
    }
    return record;
  }

  /** Every pipeline. */
  list(): PipelineRecord[] {
    return [...this.#live.values()].map((p) => p.record).sort((a, b) => a.name < b.name ? -1 : 1);
  }

  /** A pipeline with its queue and newest runs (failed runs carry their error). */
  async get(name: string, runs = 20): Promise<PipelineStatus> {
    const p = this.#pipeline(name);
    return {
      ...p.record,
      queued: [...p.queue],
      running: p.running,
      runs: await this.#store.listRuns(name, runs),
      deletedSourceRuns: await this.#store.listDeletedSourceRuns(name, runs),
    };
  }

  /** The names of the pipelines that read `dataset`, sorted. */
  readers(dataset: string): string[] {
    return this.list().filter((p) => p.source === dataset).map((p) => p.name);
  }

  /**
   * Called before `dataset` is deleted. Refuses (`ConflictError` naming
   * them) while pipelines read it, unless `force`: then their queued runs of
   * it are dropped, a run under way finishes, and their runs are set aside
   * as those of a deleted dataset. The pipelines stay, and run again on the
   * commits of a dataset created anew under the name.
   */
  async sourceDeleting(dataset: string, options: { readonly force?: boolean } = {}) {
    const readers = this.readers(dataset);
    if (readers.length === 0) return;
    const names = readers.map((n) => `'${n}'`).join(", ");
    if (options.force !== true) {
      throw new ConflictError(
        `Cannot delete dataset '${dataset}': pipeline${
          readers.length === 1 ? "" : "s"
        } ${names} read${
          readers.length === 1 ? "s" : ""
        } it; delete the pipeline first, or delete with force (strata delete --force, ?force=true) to stop its runs`,
      );
    }
    let createdAt: number;
    try {
      createdAt = (await this.#catalog.describeDataset(dataset)).createdAt;
    } catch (e) {
      if (e instanceof NotFoundError) return;
      throw e;
    }
    const deletedAt = Date.now();
    for (const name of readers) {
      const p = this.#live.get(name);
      if (p === undefined) continue;
      p.queue.length = 0;
      await p.loop;
      await this.#store.setRunsAside(name, createdAt, deletedAt);
    }
  }

  /** Deletes a pipeline, its runs and results (a run under way finishes first). */
  async delete(name: string): Promise<void> {
    const p = this.#pipeline(name);
    this.#live.delete(name);
    p.unfollow();
    p.queue.length = 0;
    await p.loop;
    await this.#store.deletePipeline(name);
  }

  /** The merged value a pipeline computed for a version (`latest`: the newest), with lineage. */
  async result(
    name: string,
    version: number | "latest",
  ): Promise<{ version: number; value: unknown; lineage: Lineage }> {
    this.#pipeline(name);
    const v = version === "latest" ? (await this.#store.resultVersions(name, 1))[0] : version;
    const r = v === undefined ? undefined : await this.#store.getResult(name, v);
    if (v === undefined || r === undefined) {
      throw new NotFoundError(
        `Pipeline '${name}' has no result for ${
          version === "latest" ? "any version" : `version ${version}`
        }`,
      );
    }
    return { version: v, value: JSON.parse(r.json), lineage: r.lineage };
  }

  /** Where a derived dataset's version came from. */
  lineage(dataset: string, version: number): Promise<Lineage> {
    return this.#store.getLineage(dataset, version);
  }

  /** Resolves once no pipeline has a run queued or under way. */
  async idle(): Promise<void> {
    for (;;) {
      const loops = [...this.#live.values()].map((p) => p.loop).filter((l) => l !== undefined);
      if (loops.length === 0) return;
      await Promise.all(loops);
    }
  }

  /** Stops listening; runs under way finish their attempt, queued ones are dropped. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#unsubscribe();
    for (const p of this.#live.values()) p.unfollow();
    for (const wake of this.#sleeps) wake();
    for (const p of this.#live.values()) p.queue.length = 0;
    await Promise.all([...this.#live.values()].map((p) => p.loop));
  }

  /** Closes it (`await using`); see `close()`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #follow(source: string): () => void {
    return this.#catalog.follow?.(source) ?? (() => {});
  }

  /**
   * Queues the versions of a pipeline's source committed since it was
   * created that have no finished run: those committed while the service
   * was down, or still queued (or running) when it stopped.
   */
  async #catchUp(p: Live): Promise<void> {
    let source: DatasetDescription;
    try {
      source = await this.#catalog.describeDataset(p.record.source);
    } catch (e) {
      if (e instanceof NotFoundError) return;
      throw e;
    }
    const runs = await this.#store.listRuns(p.record.name, p.record.keep);
    const finished = new Set(runs.filter((r) => r.state !== "running").map((r) => r.version));
    const oldest = runs.length === 0 ? 0 : Math.min(...runs.map((r) => r.version));
    for (const v of source.versions) {
      if (v.state !== "committed" || (v.committedAt ?? 0) < p.record.createdAt) continue;
      // Runs older than the ones kept finished long ago.
      if (runs.length >= p.record.keep && v.version < oldest) continue;
      if (!finished.has(v.version)) this.#committed(p.record.source, v.version, p);
    }
  }

  #committed(dataset: string, version: number, only?: Live): void {
    if (this.#closed) return;
    for (const p of only === undefined ? this.#live.values() : [only]) {
      if (p.record.source !== dataset || p.queue.includes(version)) continue;
      p.queue.push(version);
      while (p.queue.length > p.record.queue) {
        const dropped = p.queue.shift()!;
        metrics.pipelineRuns.inc({ state: "skipped" });
        log.warn("pipeline run skipped", {
          pipeline: p.record.name,
          version: dropped,
          queue: p.record.queue,
        });
        this.#store.putRun({
          pipeline: p.record.name,
          version: dropped,
          state: "skipped",
          attempts: 0,
          error: `${p.record.queue} newer versions were waiting: the queue is full`,
          startedAt: Date.now(),
          finishedAt: Date.now(),
        }, p.record.keep).catch(() => {});
      }
      // The commit is still under way: start the run after it, not inside it.
      p.loop ??= Promise.resolve().then(() => this.#drain(p));
    }
  }

  async #drain(p: Live): Promise<void> {
    try {
      while (p.queue.length > 0 && !this.#closed) {
        const v = p.queue.shift()!;
        p.running = v;
        try {
          await this.#run(p.record, v);
        } catch {
          // The run's state could not be written; the next run tries again.
        }
        p.running = null;
      }
    } finally {
      p.loop = undefined;
    }
  }

  async #run(spec: PipelineRecord, version: number): Promise<void> {
    const startedAt = Date.now();
    await this.#store.putRun(
      { pipeline: spec.name, version, state: "running", attempts: 0, startedAt },
      spec.keep,
    );
    const published = new Set<string>();
    let attempts = 0;
    let last: Partial<RunRecord> = {};
    for (;;) {
      attempts++;
      try {
        last = await this.#attempt(spec, version, published, (info) => last = info);
        metrics.pipelineRuns.inc({ state: "succeeded" });
        await this.#store.putRun({
          pipeline: spec.name,
          version,
          state: "succeeded",
          attempts,
          ...last,
          startedAt,
          finishedAt: Date.now(),
        }, spec.keep);
        return;
      } catch (e) {
        const error = e instanceof Error ? e.message : String(e);
        if (attempts > spec.retries || this.#closed) {
          metrics.pipelineRuns.inc({ state: "failed" });
          log.error("pipeline run failed", {
            pipeline: spec.name,
            source: spec.source,
            version,
            attempts,
            error,
          });
          await this.#store.putRun({
            pipeline: spec.name,
            version,
            state: "failed",
            attempts,
            error,
            ...last,
            startedAt,
            finishedAt: Date.now(),
          }, spec.keep);
          return;
        }
        await this.#sleep(spec.retryDelayMs * 2 ** (attempts - 1));
      }
    }
  }

  async #attempt(
    spec: PipelineSpec,
    version: number,
    published: Set<string>,
    note: (info: Partial<RunRecord>) => void,
  ): Promise<Partial<RunRecord>> {
    const fn = await this.#functions.resolve(spec.function, spec.use);
    const info: { function: Lineage["function"]; placement?: PlacementRecord; calls?: number } = {
      function: {
        name: fn.record.name,
        version: fn.record.version,
        digest: fn.record.digest,
      },
    };
    note(info);
    const found = await this.#functions.units(fn, spec.source, version);
    const nodes = await this.#dispatch.nodes();
    if (nodes.length === 0) {
      throw new UnavailableError("No runtime is live to run the function on");
    }
    const decision = this.#policy({
      requested: spec.placement,
      producers: found.producers,
      nodes,
      inputBytes: found.bytes,
      version,
    });
    info.calls = found.units.length;
    const lineage: Lineage = {
      function: info.function,
      source: { dataset: spec.source, version },
      pipeline: spec.name,
      createdAt: Date.now(),
    };
    const output = fn.record.declaration.output;
    if (output.kind === "dataset") {
      await ensureOutput(this.#catalog, spec, fn);
      // A run caught up after a stop may have committed its output before the stop.
      const out = await this.#catalog.describeDataset(spec.output!);
      if (out.versions.some((v) => v.version === version && v.state === "committed")) {
        info.calls = 0;
        return info;
      }
      await this.#store.putLineage(spec.output!, version, lineage, spec.keep);
    }
    const job = runJobOf(spec, fn, {
      version,
      units: found.units.map((u) => u.params),
      published,
      decision,
      function: info.function,
    });
    const { outcome, placement } = await dispatchInOrder(this.#dispatch, job, {
      requested: spec.placement,
      decision,
      producers: found.producers,
      nodes,
      timeoutMs: runTimeoutMs(fn.record.limits.timeMs, job.units.length),
    });
    info.placement = placement;
    for (const key of outcome.published) published.add(key);
    await this.#keep(spec, version, outcome, lineage, output.kind);
    return info;
  }

  /** Keeps what a run made: its value result, or the commit of its output version. */
  async #keep(
    spec: PipelineSpec,
    version: number,
    outcome: RunOutcome,
    lineage: Lineage,
    kind: "value" | "dataset",
  ): Promise<void> {
    if (!outcome.ok) {
      const { code, message, fields } = outcome.error;
      throw errorFromCode(code, message, fields);
    }
    if (kind === "value") {
      await this.#store.putResult(spec.name, version, { json: outcome.json!, lineage }, spec.keep);
      return;
    }
    try {
      await this.#catalog.commitVersion(spec.output!, version);
    } catch (e) {
      // The last publish completed the version's coverage and committed it.
      if (!(e instanceof ConflictError && e.fields.state === "committed")) throw e;
    }
  }

  #pipeline(name: string): Live {
    const p = this.#live.get(name);
    if (p === undefined) throw new NotFoundError(`Unknown pipeline '${name}'`);
    return p;
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.#sleeps.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.#sleeps.add(wake);
    });
  }
}
