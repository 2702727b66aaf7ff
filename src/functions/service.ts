/**
 * Deployed transform functions: deploy (check, type-check, dry run, store an
 * immutable version), aliases, and calls on dataset fragments in sandboxed
 * sandbox processes. See docs/functions.md.
 *
 * @module
 */

import { compileDescription, type Dataset, fragmentLayout } from "../ddl/mod.ts";
import {
  ConflictError,
  errorBody,
  FunctionFailedError,
  InvalidConfigError,
  InvalidFunctionError,
  InvalidRequestError,
  LayoutError,
  LimitExceededError,
  NotFoundError,
  NotHereError,
  type StrataError,
} from "../errors.ts";
import type { AttachQuery, DatasetDescription, SourceRecord } from "../registry/records.ts";
import type { AttachedBytes, PublishRequest } from "../runtime/runtime.ts";
import type { FragmentLayout } from "../transform/layout.ts";
import {
  composeInput,
  type Declaration,
  fieldsFor,
  type OutputDecl,
  outputLayout,
  parseDeclaration,
  sampleLayout,
  sampleOutputLayout,
  sizesFor,
} from "./declaration.ts";
import { type FieldEntry, fieldTable, packOutput } from "./fields.ts";
import { callError, packCalls } from "./_calls.ts";
import { checkAlias, checkFunctionName } from "./_names.ts";
import { mapLimit } from "./map_limit.ts";
import { checkLimits, limitsKey } from "./limits.ts";
import { type Lease, type Loadable, LoadFailed, type PoolOptions, SandboxPool } from "./pool.ts";
import type { SandboxReply, SandboxRequest } from "./sandbox.ts";
import { type RunJob, type RunOutcome, unitKey } from "./run_job.ts";
import { sampleBytes } from "./sample.ts";
import { checkSource, digestOf, runnableSource } from "./source.ts";
import type { FunctionStore, VersionRecord } from "./store.ts";
import type { TypeChecker } from "./typecheck.ts";

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

/** One unit of work: the function on one region of one version. */
interface Unit {
  readonly params: Readonly<Record<string, number>>;
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
  readonly #owned: FunctionStore | undefined;
  readonly #lookup: FunctionLookup;
  readonly #catalog: FunctionCatalog;
  readonly #node: FunctionRuntime | undefined;
  readonly #pool: SandboxPool;
  readonly #ownsPool: boolean;
  readonly #checker: TypeChecker | undefined;
  readonly #versions = new Map<string, Resolved>();
  readonly #aliases = new Map<string, Record<string, number>>();
  readonly #inputs = new Map<string, Dataset>();
  readonly #sources = new Map<string, DatasetDescription>();
  readonly #outputs = new Map<string, Dataset>();
  readonly #layouts = new Map<string, { layout: FragmentLayout; fields: FieldEntry[] }>();
  #inUse: (name: string) => string | undefined = () => undefined;

  /** Creates the service. */
  constructor(options: FunctionServiceOptions) {
    const lookup = options.store ?? options.lookup;
    if (lookup === undefined) {
      throw new InvalidConfigError("A function service needs a store or a lookup");
    }
    this.#owned = options.store;
    this.#lookup = lookup;
    this.#catalog = options.catalog;
    this.#node = options.runtime;
    this.#ownsPool = options.pool === undefined;
    this.#pool = options.pool ?? new SandboxPool(options.poolOptions);
    this.#checker = options.typeChecker;
  }

  /** Starts the spare sandbox processes ahead of the first call. */
  warm(): void {
    this.#pool.warm();
  }

  /** Tells the service which functions pipelines use, so they are not deleted under them. */
  usedBy(lookup: (name: string) => string | undefined): void {
    this.#inUse = lookup;
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
  async deploy(
    name: string,
    source: string,
    options: { readonly limits?: unknown; readonly aliases?: readonly string[] } = {},
  ): Promise<VersionRecord & { readonly created: boolean }> {
    checkFunctionName(name);
    const aliases = options.aliases ?? [];
    for (const a of aliases) checkAlias(a);
    const limits = checkLimits(options.limits ?? {});
    checkSource(name, source);
    const digest = await digestOf(source);
    const current = await this.#store().getFunction(name);
    if (current !== undefined) {
      const newest = await this.#store().getVersion(name, current.latest);
      if (newest.digest === digest && limitsKey(newest.limits) === limitsKey(limits)) {
        for (const a of aliases) await this.setAlias(name, a, newest.version);
        return { ...newest, created: false };
      }
    }
    if (this.#checker !== undefined) await this.#checker.check(name, source, digest);
    const module: Loadable = {
      key: `${digest}/${limitsKey(limits)}`,
      source: runnableSource(source),
      limits,
    };
    const started = performance.now();
    let declaration: Declaration;
    try {
      declaration = await this.#dryRun(name, digest, module);
    } catch (e) {
      this.#pool.evict(module.key);
      throw e;
    }
    const record = await this.#store().addVersion(
      {
        name,
        digest,
        bytes: new TextEncoder().encode(source).byteLength,
        limits,
        declaration,
        typeCheck: this.#checker === undefined ? "skipped" : "deno check",
        dryRunMs: Math.round((performance.now() - started) * 1000) / 1000,
        deployedAt: Date.now(),
      },
      source,
      aliases,
    );
    this.#aliases.delete(name);
    this.#versions.set(`${name}@${record.version}`, { record, module });
    return { ...record, created: true };
  }

  /** Every function with its newest version and aliases. */
  async list(): Promise<{ name: string; latest: number; aliases: Record<string, number> }[]> {
    const out = [];
    for (const f of await this.#store().listFunctions()) {
      out.push({ name: f.name, latest: f.latest, aliases: await this.#aliasesOf(f.name) });
    }
    return out;
  }

  /** A function: its versions (without sources) and aliases. */
  async describe(name: string): Promise<{
    name: string;
    latest: number;
    createdAt: number;
    aliases: Record<string, number>;
    versions: VersionRecord[];
  }> {
    const f = await this.#store().getFunction(name);
    if (f === undefined) throw new NotFoundError(`Unknown function '${name}'`);
    return {
      ...f,
      aliases: await this.#aliasesOf(name),
      versions: await this.#store().listVersions(name),
    };
  }

  /** One version with its source. */
  async version(name: string, version: number): Promise<VersionRecord & { source: string }> {
    const record = await this.#store().getVersion(name, version);
    return { ...record, source: await this.#store().getSource(record.digest) };
  }

  /** Points an alias at a version (a rollback moves an alias back). */
  async setAlias(name: string, alias: string, version: number): Promise<void> {
    checkAlias(alias);
    await this.#store().setAlias(name, alias, version);
    this.#aliases.delete(name);
  }

  /** Removes an alias. */
  async deleteAlias(name: string, alias: string): Promise<void> {
    await this.#store().deleteAlias(name, alias);
    this.#aliases.delete(name);
  }

  /** Deletes a version no alias points at. */
  async deleteVersion(name: string, version: number): Promise<void> {
    await this.#store().deleteVersion(name, version);
    this.#forget(name, version);
  }

  /** Deletes a function that no pipeline uses. */
  async deleteFunction(name: string): Promise<void> {
    const pipeline = this.#inUse(name);
    if (pipeline !== undefined) {
      throw new ConflictError(
        `Function '${name}' is used by pipeline '${pipeline}': delete the pipeline first`,
      );
    }
    const versions = await this.#store().listVersions(name);
    await this.#store().deleteFunction(name);
    for (const v of versions) this.#forget(name, v.version);
    this.#aliases.delete(name);
  }

  /** Resolves an alias or version number of `name`. */
  async resolve(name: string, use: string | number = "latest"): Promise<Resolved> {
    let version: number;
    if (typeof use === "number") version = use;
    else {
      const v = (await this.#aliasesOf(name))[use];
      if (v === undefined) {
        throw new NotFoundError(
          (await this.#lookup.getFunction(name)) === undefined
            ? `Unknown function '${name}'`
            : `Function '${name}' has no alias '${use}'`,
        );
      }
      version = v;
    }
    const key = `${name}@${version}`;
    const hit = this.#versions.get(key);
    if (hit !== undefined) return hit;
    const record = await this.#lookup.getVersion(name, version);
    const source = await this.#lookup.getSource(record.digest);
    const resolved: Resolved = {
      record,
      module: {
        key: `${record.digest}/${limitsKey(record.limits)}`,
        source: runnableSource(source),
        limits: record.limits,
      },
    };
    this.#versions.set(key, resolved);
    return resolved;
  }

  /**
   * Runs a function on stored data: on one region of a committed version,
   * or (`each`) on every published fragment of it, merged into one value.
   */
  async invoke(name: string, req: InvokeRequest): Promise<CallResult> {
    const fn = await this.resolve(name, req.use ?? "latest");
    const decl = fn.record.declaration;
    let version: number | "latest" = req.version ?? "latest";
    let units: Unit[];
    if (req.each === true) {
      if (decl.output.kind !== "value") {
        throw new InvalidRequestError(
          `Function '${name}' outputs a dataset: run it per fragment with a pipeline, or invoke it on one region`,
        );
      }
      const found = await this.units(
        fn,
        req.dataset,
        version,
        req.waitMs === undefined ? {} : { waitMs: req.waitMs },
      );
      version = found.version;
      units = found.units;
    } else units = [{ params: req.params ?? {} }];
    const results = await mapLimit(
      units,
      units.length === 1 ? 1 : 2,
      (u) =>
        this.runUnit(fn, {
          dataset: req.dataset,
          version,
          params: u.params,
          args: req.args,
          ...(req.waitMs === undefined ? {} : { waitMs: req.waitMs }),
        }),
    );
    const logs = results.flatMap((r) => r.logs);
    if (results.length === 1) return { ...results[0]!, calls: 1 };
    const json = await this.reduce(fn, results.map((r) => r.json!));
    return {
      function: functionOf(fn),
      source: results[0]!.source,
      json,
      logs,
      calls: results.length,
    };
  }

  /**
   * The units of a per-fragment run: one per published copy of the version,
   * its parameters bound from the copy's by name (a function whose input
   * takes none runs once on the whole input). `waitMs`: wait that long for
   * the version (or, for `latest`, any version) to be committed.
   */
  async units(
    fn: Resolved,
    dataset: string,
    version: number | "latest",
    options: { readonly waitMs?: number } = {},
  ): Promise<{ version: number; units: Unit[]; producers: string[]; bytes: number }> {
    const decl = fn.record.declaration;
    const found = await this.#catalog.attachFragments({
      dataset,
      version,
      fragment: "dataset",
      bindings: {},
    }, options);
    const producers = [...new Set(found.sources.map((s) => s.node))];
    const bytes = found.sources.reduce((n, s) => n + s.byteLength, 0);
    if (decl.params.length === 0) {
      return { version: found.version, units: [{ params: {} }], producers, bytes };
    }
    const seen = new Map<string, Unit>();
    for (const s of found.sources) {
      const params: Record<string, number> = {};
      for (const p of decl.params) {
        const v = s.bindings[p];
        if (v === undefined) {
          throw new LayoutError(
            `Function '${fn.record.name}' runs per fragment with parameters ${
              decl.params.join(", ")
            }, but version ${found.version} of '${dataset}' holds fragment '${s.fragment}' without '${p}'`,
          );
        }
        params[p] = v;
      }
      seen.set(JSON.stringify(params), { params });
    }
    return { version: found.version, units: [...seen.values()], producers, bytes };
  }

  /** Runs the function on one region of a version: attach, call, check the result. */
  async runUnit(
    fn: Resolved,
    req: {
      readonly dataset: string;
      readonly version: number | "latest";
      readonly params: Readonly<Record<string, number>>;
      readonly args?: unknown;
      readonly waitMs?: number;
      /** Where a reshape of remote input runs (see `RunJob.reshape`). */
      readonly reshape?: "source" | "destination";
    },
  ): Promise<CallResult> {
    const decl = fn.record.declaration;
    const attach = async (source: DatasetDescription) => {
      // Sizes read per version: find the version first, then lay its region out.
      const found = source.sizesPerVersion.length === 0
        ? { version: req.version, sizes: source.sizes }
        : await this.#catalog.attachFragments(
          { dataset: req.dataset, version: req.version, fragment: "dataset", bindings: {} },
          req.waitMs === undefined ? {} : { waitMs: req.waitMs },
        );
      const sizes = found.sizes ?? source.sizes;
      const { layout, fields } = this.#layout(fn, source, req.params, sizes);
      return await this.#runtime().attachLayout(
        {
          dataset: req.dataset,
          version: found.version,
          createdAt: source.createdAt,
          ...(req.waitMs === undefined ? {} : { waitMs: req.waitMs }),
          ...(req.reshape === undefined ? {} : { reshape: req.reshape }),
        },
        layout,
      ).then((attached) => ({ attached, fields, source, sizes }));
    };
    const kept = this.#sources.get(req.dataset);
    let run: Awaited<ReturnType<typeof attach>>;
    try {
      run = await attach(kept ?? await this.#source(req.dataset));
    } catch (e) {
      // A kept description may be of a dataset since deleted and created
      // again (the attach says so with DatasetReplacedError; a layout the
      // old description could not give fails before it): read it again.
      if (kept === undefined) throw e;
      this.#sources.delete(req.dataset);
      const fresh = await this.#source(req.dataset);
      if (fresh.createdAt === kept.createdAt) throw e;
      run = await attach(fresh);
    }
    const { attached, fields, sizes } = run;
    const buffer = attached.bytes.buffer as ArrayBuffer;
    const ctx = {
      function: functionOf(fn),
      dataset: req.dataset,
      version: attached.version,
      params: req.params,
      args: req.args ?? null,
      dryRun: false,
    };
    const output = decl.output;
    const reply = await this.#request(
      fn.record,
      fn.module,
      {
        t: "run",
        buffer,
        call: { fields, base: 0, ctx },
        output: output.kind === "value" ? "value" : "arrays",
      },
      [buffer],
    );
    const from = { dataset: req.dataset, version: attached.version };
    if (output.kind === "value") {
      return {
        function: functionOf(fn),
        source: from,
        json: reply.json!,
        logs: reply.logs,
        calls: 1,
      };
    }
    const outDs = this.#output(fn, output);
    const outLayout = outputLayout(outDs, output, {
      ...sizesFor(outDs, sizes),
      ...req.params,
    });
    const bytes = this.#pack(fn.record, outLayout, reply.arrays);
    return {
      function: functionOf(fn),
      source: from,
      bytes,
      layout: outLayout,
      logs: reply.logs,
      calls: 1,
    };
  }

  /** Merges value results (JSON texts) with the function's `merge`, in its sandbox. */
  async reduce(fn: Resolved, values: readonly string[]): Promise<string> {
    if (values.length === 1) return values[0]!;
    if (!fn.record.declaration.merge) {
      throw new FunctionFailedError(
        fn.record.name,
        fn.record.version,
        `${values.length} fragments gave ${values.length} results, and it exports no merge to combine them`,
      );
    }
    const reply = await this.#request(fn.record, fn.module, { t: "reduce", values }, []);
    return reply.json!;
  }

  /**
   * Runs a job handed to this node: the exact function version (its digest
   * checked) on each unit of the source version, two calls at a time. Value
   * results are merged into one; dataset results are published here, into
   * the job's output, each as soon as it is computed. Never throws: a
   * failure is an outcome naming its error and the units published before it.
   */
  async runJob(job: RunJob): Promise<RunOutcome> {
    const node = this.#node?.node ?? "local";
    const published: string[] = [];
    try {
      const fn = await this.resolve(job.function.name, job.function.version);
      if (fn.record.digest !== job.function.digest) {
        throw new ConflictError(
          `Function '${job.function.name}' version ${job.function.version} is ${fn.record.digest} here, not ${job.function.digest}`,
        );
      }
      const call = (params: Readonly<Record<string, number>>) =>
        this.runUnit(fn, {
          dataset: job.source.dataset,
          version: job.source.version,
          params,
          ...(job.args === undefined ? {} : { args: job.args }),
          ...(job.reshape === undefined ? {} : { reshape: job.reshape }),
        });
      const output = job.output;
      if (output === undefined) {
        const results = await mapLimit(job.units, 2, call);
        const json = await this.reduce(fn, results.map((r) => r.json!));
        return { ok: true, json, calls: results.length, published, node };
      }
      const runtime = this.#runtime();
      if (runtime.publish === undefined) {
        throw new NotHereError("This runtime cannot publish the outputs of runs");
      }
      const skip = new Set(job.skip ?? []);
      let calls = 0;
      await mapLimit(job.units, 2, async (params) => {
        const key = unitKey(params);
        if (skip.has(key)) return;
        const r = await call(params);
        calls++;
        const bindings: Record<string, number> = {};
        for (const p of output.params) bindings[p] = params[p]!;
        await runtime.publish!({
          dataset: output.dataset,
          version: job.source.version,
          fragment: output.fragment,
          bindings,
          bytes: r.bytes!,
        });
        published.push(key);
      });
      return { ok: true, calls, published, node };
    } catch (e) {
      return { ok: false, error: errorBody(e), published, node };
    }
  }

  /**
   * Calls a function on arrays the caller holds, many calls per message to
   * its sandbox processes. Each input names the declared input's fields (types must
   * match; lengths are free). Results are in input order, each a value or
   * the call's error.
   */
  async callMany(
    name: string,
    inputs: readonly Readonly<Record<string, ArrayBufferView>>[],
    options: { readonly use?: string | number; readonly args?: unknown; readonly batch?: number } =
      {},
  ): Promise<({ ok: true; value: unknown } | { ok: false; error: StrataError })[]> {
    const fn = await this.resolve(name, options.use ?? "latest");
    if (fn.record.declaration.output.kind !== "value") {
      throw new InvalidRequestError(
        `Function '${name}' outputs a dataset: call it on stored data with invoke`,
      );
    }
    const declared = this.#declaredFields(fn);
    const batch = Math.max(1, options.batch ?? 512);
    const chunks: (readonly Readonly<Record<string, ArrayBufferView>>[])[] = [];
    for (let i = 0; i < inputs.length; i += batch) chunks.push(inputs.slice(i, i + batch));
    const ctx = {
      function: functionOf(fn),
      dataset: "",
      version: 0,
      params: {},
      args: options.args ?? null,
      dryRun: false,
    };
    const done = await mapLimit(chunks, 4, async (chunk) => {
      const { buffer, calls } = packCalls(name, declared, chunk, ctx);
      const reply = await this.#request(
        fn.record,
        fn.module,
        { t: "batch", buffer, calls },
        [buffer],
        calls.length,
      );
      return reply.results!.map((r) =>
        "json" in r ? { ok: true as const, value: JSON.parse(r.json) } : {
          ok: false as const,
          error: callError(fn.record, { t: "error", error: r.error, logs: [] }),
        }
      );
    });
    return done.flat();
  }

  /** Kills the sandbox processes (when the service made its pool); resolves once they stopped. */
  close(): Promise<void> {
    return this.#ownsPool ? this.#pool.close() : Promise.resolve();
  }

  /** Closes it (`await using`); see `close()`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #dryRun(name: string, digest: string, module: Loadable): Promise<Declaration> {
    let lease: Lease;
    try {
      lease = await this.#pool.acquire(module);
    } catch (e) {
      if (e instanceof LoadFailed) {
        throw new InvalidFunctionError(name, "dry-run", `the module does not load: ${e.message}`);
      }
      throw e;
    }
    let decl: Declaration;
    try {
      decl = parseDeclaration(name, lease.exports);
    } finally {
      lease.release();
    }
    const record = { name, version: 0, limits: module.limits };
    const layout = sampleLayout(decl);
    const fields = fieldTable(layout);
    const fail = (e: unknown): never => {
      if (e instanceof LimitExceededError || e instanceof FunctionFailedError) {
        const detail = e.message.replace(/^Function '[^']*' version 0 /, "");
        throw new InvalidFunctionError(name, "dry-run", `the sample run ${detail}`, { cause: e });
      }
      throw e;
    };
    const runs: string[] = [];
    for (const seed of decl.merge ? [1, 2] : [1]) {
      const bytes = sampleBytes(layout.byteLength, fields, seed);
      const buffer = bytes.buffer as ArrayBuffer;
      const ctx = {
        function: { name, version: 0, digest },
        dataset: "sample",
        version: 0,
        params: Object.fromEntries(decl.params.map((p) => [p, decl.sample[p]!])),
        args: null,
        dryRun: true,
      };
      const reply = await this.#request(
        record,
        module,
        {
          t: "run",
          buffer,
          call: { fields, base: 0, ctx },
          output: decl.output.kind === "value" ? "value" : "arrays",
        },
        [buffer],
      ).catch(fail);
      if (decl.output.kind === "value") runs.push(reply.json!);
      else {
        const out = sampleOutputLayout(decl);
        try {
          this.#pack(record, out, reply.arrays);
        } catch (e) {
          fail(e);
        }
      }
    }
    if (runs.length === 2) {
      await this.#request(record, module, { t: "reduce", values: runs }, []).catch(fail);
    }
    return decl;
  }

  async #request(
    record: Pick<VersionRecord, "name" | "version" | "limits">,
    module: Loadable,
    message: SandboxRequest,
    transfer: Transferable[],
    calls = 1,
  ): Promise<Extract<SandboxReply, { t: "done" }>> {
    let lease: Lease;
    try {
      lease = await this.#pool.acquire(module);
    } catch (e) {
      if (e instanceof LoadFailed) throw callError(record, e.reply);
      throw e;
    }
    let reply: SandboxReply;
    try {
      reply = await lease.sandbox.request(message, transfer, record.limits.timeMs * calls);
    } finally {
      lease.release();
    }
    if (reply.t === "loaded") {
      throw new FunctionFailedError(
        record.name,
        record.version,
        "its sandbox process answered out of turn",
      );
    }
    if (reply.t !== "done") throw callError(record, reply);
    if (reply.json !== undefined && reply.json.length > record.limits.outputBytes) {
      throw new LimitExceededError(
        record.name,
        record.version,
        "output",
        `the result takes ${reply.json.length} bytes of JSON, over the limit of ${record.limits.outputBytes}`,
      );
    }
    return reply;
  }

  #pack(
    record: Pick<VersionRecord, "name" | "version" | "limits">,
    layout: FragmentLayout,
    arrays: Record<string, unknown> | undefined,
  ): Uint8Array {
    if (layout.byteLength > record.limits.outputBytes) {
      throw new LimitExceededError(
        record.name,
        record.version,
        "output",
        `the output fragment takes ${layout.byteLength} bytes, over the limit of ${record.limits.outputBytes}`,
      );
    }
    try {
      return packOutput(layout, fieldTable(layout), arrays ?? {});
    } catch (e) {
      if (e instanceof TypeError) {
        throw new FunctionFailedError(record.name, record.version, `run() returned ${e.message}`);
      }
      throw e;
    }
  }

  /**
   * A dataset's description, kept: a description never changes, and a
   * dataset created again under the name is told apart by its creation time
   * when the attach looks it up (`DatasetReplacedError`), or by a call that
   * failed with the kept one.
   */
  async #source(name: string): Promise<DatasetDescription> {
    const kept = this.#sources.get(name);
    if (kept !== undefined) return kept;
    const source = await this.#catalog.describeDataset(name);
    if (this.#sources.size >= 256) this.#sources.delete(this.#sources.keys().next().value!);
    this.#sources.set(name, source);
    return source;
  }

  /** The input layout and fields of a call: cached, calls on one region repeat them. */
  #layout(
    fn: Resolved,
    source: DatasetDescription,
    params: Readonly<Record<string, number>>,
    sizes: Readonly<Record<string, number>>,
  ): { layout: FragmentLayout; fields: FieldEntry[] } {
    const key = `${fn.record.digest}\0${source.name}\0${source.createdAt}\0${
      JSON.stringify(params)
    }\0${JSON.stringify(sizes)}`;
    let hit = this.#layouts.get(key);
    if (hit === undefined) {
      const ds = this.#input(fn, source);
      const layout = fragmentLayout(ds, fn.record.declaration.fragment, {
        ...sizes,
        ...params,
      });
      hit = { layout, fields: fieldsFor(fn.record.name, layout) };
      if (this.#layouts.size >= 1024) this.#layouts.delete(this.#layouts.keys().next().value!);
      this.#layouts.set(key, hit);
    }
    return hit;
  }

  #declaredFields(fn: Resolved): FieldEntry[] {
    const key = `${fn.record.digest}\0sample`;
    let hit = this.#layouts.get(key);
    if (hit === undefined) {
      const layout = sampleLayout(fn.record.declaration);
      hit = { layout, fields: fieldTable(layout) };
      this.#layouts.set(key, hit);
    }
    return hit.fields;
  }

  #input(fn: Resolved, source: DatasetDescription): Dataset {
    const key = `${fn.record.digest}\0${source.name}\0${source.createdAt}`;
    let ds = this.#inputs.get(key);
    if (ds === undefined) {
      ds = composeInput(fn.record.name, fn.record.declaration, source.name, source.description);
      if (this.#inputs.size >= 256) this.#inputs.delete(this.#inputs.keys().next().value!);
      this.#inputs.set(key, ds);
    }
    return ds;
  }

  #output(fn: Resolved, output: Extract<OutputDecl, { kind: "dataset" }>): Dataset {
    let ds = this.#outputs.get(fn.record.digest);
    if (ds === undefined) {
      ds = compileDescription(output.description);
      this.#outputs.set(fn.record.digest, ds);
    }
    return ds;
  }

  async #aliasesOf(name: string): Promise<Record<string, number>> {
    // Aliases move on the store's process: only a service that owns the
    // store sees every move, so only it keeps them.
    if (this.#owned === undefined) return await this.#lookup.aliases(name);
    let a = this.#aliases.get(name);
    if (a === undefined) {
      a = await this.#owned.aliases(name);
      this.#aliases.set(name, a);
    }
    return a;
  }

  #store(): FunctionStore {
    if (this.#owned === undefined) {
      throw new NotHereError(
        "This runtime runs functions but does not keep them: deploy, list and move aliases on the name server",
      );
    }
    return this.#owned;
  }

  #runtime(): FunctionRuntime {
    if (this.#node === undefined) {
      throw new NotHereError(
        "This process holds no data: functions run on the runtimes (invoke one of them)",
      );
    }
    return this.#node;
  }

  #forget(name: string, version: number): void {
    const key = `${name}@${version}`;
    const hit = this.#versions.get(key);
    this.#versions.delete(key);
    if (hit !== undefined) this.#pool.evict(hit.module.key);
  }
}

function functionOf(fn: Resolved): CallResult["function"] {
  return { name: fn.record.name, version: fn.record.version, digest: fn.record.digest };
}
