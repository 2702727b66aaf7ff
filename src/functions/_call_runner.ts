/**
 * Calls of deployed functions: on stored data (one region, or each
 * published fragment merged), as jobs handed to this node, and on arrays
 * the caller holds; with the input layouts and descriptions they reuse.
 *
 * @module
 */

import { compileDescription, type Dataset, fragmentLayout } from "../ddl/mod.ts";
import {
  ConflictError,
  errorBody,
  FunctionFailedError,
  InvalidRequestError,
  LayoutError,
  NotHereError,
  type StrataError,
} from "../errors.ts";
import type { DatasetDescription } from "../registry/records.ts";
import type { AttachedBytes } from "../runtime/runtime.ts";
import type { FragmentLayout } from "../transform/layout.ts";
import {
  composeInput,
  fieldsFor,
  type OutputDecl,
  outputLayout,
  sampleLayout,
  sizesFor,
} from "./declaration.ts";
import { type FieldEntry, fieldTable } from "./fields.ts";
import { callError, packCalls } from "./_calls.ts";
import { mapLimit } from "../runtime/map_limit.ts";
import type { SandboxPool } from "./pool.ts";
import { type RunJob, type RunOutcome, unitKey } from "./run_job.ts";
import { packResult, requestSandbox } from "./_sandbox_request.ts";
import type { Deployments } from "./_deployments.ts";
import type {
  CallResult,
  FunctionCatalog,
  FunctionRuntime,
  InvokeRequest,
  Resolved,
} from "./service.ts";

/** One unit of work: the function on one region of one version. */
export interface Unit {
  readonly params: Readonly<Record<string, number>>;
}

/** A call on one region of a version. */
export interface UnitRequest {
  readonly dataset: string;
  readonly version: number | "latest";
  readonly params: Readonly<Record<string, number>>;
  readonly args?: unknown;
  readonly waitMs?: number;
  /** Where a reshape of remote input runs (see `RunJob.reshape`). */
  readonly reshape?: "source" | "destination";
}

/** A unit's input, attached, with the fields and sizes it was laid out with. */
interface AttachedInput {
  readonly attached: AttachedBytes;
  readonly fields: FieldEntry[];
  readonly sizes: Readonly<Record<string, number>>;
}

/** Runs calls of deployed functions in their sandboxes. */
export class CallRunner {
  readonly #deployments: Deployments;
  readonly #catalog: FunctionCatalog;
  readonly #node: FunctionRuntime | undefined;
  readonly #pool: SandboxPool;
  readonly #inputs = new Map<string, Dataset>();
  readonly #sources = new Map<string, DatasetDescription>();
  readonly #outputs = new Map<string, Dataset>();
  readonly #layouts = new Map<string, { layout: FragmentLayout; fields: FieldEntry[] }>();

  /** Creates the call part of a function service. */
  constructor(options: {
    readonly deployments: Deployments;
    readonly catalog: FunctionCatalog;
    readonly runtime: FunctionRuntime | undefined;
    readonly pool: SandboxPool;
  }) {
    this.#deployments = options.deployments;
    this.#catalog = options.catalog;
    this.#node = options.runtime;
    this.#pool = options.pool;
  }

  /**
   * Runs a function on stored data: on one region of a committed version,
   * or (`each`) on every published fragment of it, merged into one value.
   */
  async invoke(name: string, req: InvokeRequest): Promise<CallResult> {
    const fn = await this.#deployments.resolve(name, req.use ?? "latest");
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
    const run = (u: Unit) =>
      this.runUnit(fn, {
        dataset: req.dataset,
        version,
        params: u.params,
        args: req.args,
        ...(req.waitMs === undefined ? {} : { waitMs: req.waitMs }),
      });
    // One region, the common call: no fan-out to set up.
    if (units.length === 1) return await run(units[0]!);
    const results = await mapLimit(units, 2, run);
    const logs = results.flatMap((r) => r.logs);
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
  async runUnit(fn: Resolved, req: UnitRequest): Promise<CallResult> {
    const { attached, fields, sizes } = await this.#attachInput(fn, req);
    const buffer = attached.bytes.buffer as ArrayBuffer;
    const ctx = {
      function: functionOf(fn),
      dataset: req.dataset,
      version: attached.version,
      params: req.params,
      args: req.args ?? null,
      dryRun: false,
    };
    const output = fn.record.declaration.output;
    const reply = await requestSandbox(
      this.#pool,
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
    const bytes = packResult(fn.record, outLayout, reply.arrays);
    return {
      function: functionOf(fn),
      source: from,
      bytes,
      layout: outLayout,
      logs: reply.logs,
      calls: 1,
    };
  }

  /**
   * Attaches a unit's input: laid out from the source's kept description,
   * or from a fresh one when the kept one is of a dataset since replaced.
   */
  async #attachInput(fn: Resolved, req: UnitRequest): Promise<AttachedInput> {
    const kept = this.#sources.get(req.dataset);
    try {
      return await this.#attachWith(fn, req, kept ?? await this.#source(req.dataset));
    } catch (e) {
      // A kept description may be of a dataset since deleted and created
      // again (the attach says so with DatasetReplacedError; a layout the
      // old description could not give fails before it): read it again.
      if (kept === undefined) throw e;
      this.#sources.delete(req.dataset);
      const fresh = await this.#source(req.dataset);
      if (fresh.createdAt === kept.createdAt) throw e;
      return await this.#attachWith(fn, req, fresh);
    }
  }

  /** Attaches a unit's input as `source` describes the dataset. */
  async #attachWith(
    fn: Resolved,
    req: UnitRequest,
    source: DatasetDescription,
  ): Promise<AttachedInput> {
    // Sizes read per version: find the version first, then lay its region out.
    const found = source.sizesPerVersion.length === 0
      ? { version: req.version, sizes: source.sizes }
      : await this.#catalog.attachFragments(
        { dataset: req.dataset, version: req.version, fragment: "dataset", bindings: {} },
        req.waitMs === undefined ? {} : { waitMs: req.waitMs },
      );
    const sizes = found.sizes ?? source.sizes;
    const { layout, fields } = this.#layout(fn, source, req.params, sizes);
    const attached = await this.#runtime().attachLayout(
      {
        dataset: req.dataset,
        version: found.version,
        createdAt: source.createdAt,
        ...(req.waitMs === undefined ? {} : { waitMs: req.waitMs }),
        ...(req.reshape === undefined ? {} : { reshape: req.reshape }),
      },
      layout,
    );
    return { attached, fields, sizes };
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
    const reply = await requestSandbox(
      this.#pool,
      fn.record,
      fn.module,
      { t: "reduce", values },
      [],
    );
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
      const fn = await this.#deployments.resolve(job.function.name, job.function.version);
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
    const fn = await this.#deployments.resolve(name, options.use ?? "latest");
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
      const reply = await requestSandbox(
        this.#pool,
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

  #runtime(): FunctionRuntime {
    if (this.#node === undefined) {
      throw new NotHereError(
        "This process holds no data: functions run on the runtimes (invoke one of them)",
      );
    }
    return this.#node;
  }
}

function functionOf(fn: Resolved): CallResult["function"] {
  return { name: fn.record.name, version: fn.record.version, digest: fn.record.digest };
}
