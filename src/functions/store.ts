/**
 * Function deployments, aliases, pipelines, their runs and results, and
 * lineage, in the registry's Deno KV under their own key prefixes (listed in
 * docs/functions.md). Versions are immutable; a deploy, an alias move and a
 * deletion each commit in one atomic operation.
 *
 * @module
 */

import { ConflictError, InvalidRequestError, NotFoundError } from "../errors.ts";
import type { Declaration } from "./declaration.ts";
import type { Limits } from "./limits.ts";
import type { PipelineSpec } from "./pipeline_spec.ts";
import { joinBytes } from "../http/join_bytes.ts";

/** Key builders of every record the store writes. */
export const FUNCTION_KEYS = {
  /** A function: `["functions", name]`. */
  fn: (name: string): Deno.KvKey => ["functions", name],
  /** One version: `["function_versions", name, version]`. */
  version: (name: string, v: number): Deno.KvKey => ["function_versions", name, v],
  /** Chunk `i` of a source: `["function_sources", digest, i]`. */
  source: (digest: string, i: number): Deno.KvKey => ["function_sources", digest, i],
  /** An alias: `["function_aliases", name, alias]` -> version. */
  alias: (name: string, alias: string): Deno.KvKey => ["function_aliases", name, alias],
  /** A pipeline: `["pipelines", name]`. */
  pipeline: (name: string): Deno.KvKey => ["pipelines", name],
  /** A pipeline's run for one source version: `["pipeline_runs", name, version]`. */
  run: (name: string, v: number): Deno.KvKey => ["pipeline_runs", name, v],
  /**
   * A run of a source dataset deleted since, set aside so that the runs of a
   * dataset created again under its name do not replace it:
   * `["pipeline_runs_deleted", name, sourceCreatedAt, version]`.
   */
  deletedRun: (name: string, createdAt: number, v: number): Deno.KvKey => [
    "pipeline_runs_deleted",
    name,
    createdAt,
    v,
  ],
  /** A pipeline's merged value for one version: `["pipeline_results", name, version]`. */
  result: (name: string, v: number): Deno.KvKey => ["pipeline_results", name, v],
  /** Where a derived dataset's version came from: `["lineage", dataset, version]`. */
  lineage: (dataset: string, v: number): Deno.KvKey => ["lineage", dataset, v],
} as const;

/** Bytes per stored source chunk (a KV value holds 64 KiB). */
const CHUNK_BYTES = 60_000;

/** A deployed function. */
export interface FunctionRecord {
  /** Its name. */
  readonly name: string;
  /** The newest version number (versions are never reused). */
  readonly latest: number;
  /** When it was first deployed (ms since the epoch). */
  readonly createdAt: number;
}

/** One immutable version of a function. */
export interface VersionRecord {
  /** Function name. */
  readonly name: string;
  /** Version number, from 1. */
  readonly version: number;
  /** `sha256:` digest of the source. */
  readonly digest: string;
  /** Source size in UTF-8 bytes. */
  readonly bytes: number;
  /** Per-call limits. */
  readonly limits: Limits;
  /** The checked declaration. */
  readonly declaration: Declaration;
  /** How it was type-checked (`deno check`, or `skipped` when the service checks none). */
  readonly typeCheck: "deno check" | "skipped";
  /** Milliseconds its dry run took. */
  readonly dryRunMs: number;
  /** When it was deployed. */
  readonly deployedAt: number;
}

/** Where a derived result came from. */
export interface Lineage {
  /** The function that computed it. */
  readonly function: { readonly name: string; readonly version: number; readonly digest: string };
  /** The source dataset and version. */
  readonly source: { readonly dataset: string; readonly version: number };
  /** The pipeline that ran it, when one did. */
  readonly pipeline?: string;
  /** When it was written. */
  readonly createdAt: number;
}

/** Where a pipeline run ran, and why. */
export interface PlacementRecord {
  /** What the pipeline asked for. */
  readonly requested: "in-situ" | "in-transit" | "auto";
  /** What the policy decided. */
  readonly decided: "in-situ" | "in-transit";
  /** The node the policy chose. */
  readonly node: string;
  /** The node it ran on. */
  readonly ranOn: string;
  /** Why. */
  readonly reason: string;
}

/** The state of one pipeline run (one source version). */
export interface RunRecord {
  /** Pipeline name. */
  readonly pipeline: string;
  /** Source version. */
  readonly version: number;
  /** `running`, `succeeded`, `failed`, or `skipped` (dropped from a full queue). */
  readonly state: "running" | "succeeded" | "failed" | "skipped";
  /** Attempts made. */
  readonly attempts: number;
  /** The last error, when it failed (or an attempt did). */
  readonly error?: string;
  /** The function version it ran. */
  readonly function?: Lineage["function"];
  /** Where it ran. */
  readonly placement?: PlacementRecord;
  /** Calls made (one per fragment for per-fragment inputs). */
  readonly calls?: number;
  /**
   * Set on the runs of a source dataset deleted since: when that dataset was
   * created and deleted (a dataset created again under the name is another).
   */
  readonly deletedSource?: { readonly createdAt: number; readonly deletedAt: number };
  /** When it started and finished. */
  readonly startedAt: number;
  /** When it finished. */
  readonly finishedAt?: number;
}

/** A pipeline as stored. */
export interface PipelineRecord extends PipelineSpec {
  /** When it was created. */
  readonly createdAt: number;
}

/** The store over one KV. */
export class FunctionStore {
  readonly #kv: Deno.Kv;

  /** Creates a store over the registry's KV. */
  constructor(kv: Deno.Kv) {
    this.#kv = kv;
  }

  /** A function, or undefined. */
  async getFunction(name: string): Promise<FunctionRecord | undefined> {
    return (await this.#kv.get<FunctionRecord>(FUNCTION_KEYS.fn(name))).value ?? undefined;
  }

  /** Every function, by name. */
  async listFunctions(): Promise<FunctionRecord[]> {
    const out: FunctionRecord[] = [];
    for await (const e of this.#kv.list<FunctionRecord>({ prefix: ["functions"] })) {
      out.push(e.value);
    }
    return out;
  }

  /** One version, or `NotFoundError`. */
  async getVersion(name: string, version: number): Promise<VersionRecord> {
    const r = (await this.#kv.get<VersionRecord>(FUNCTION_KEYS.version(name, version))).value;
    if (r === null) {
      throw new NotFoundError(
        (await this.getFunction(name)) === undefined
          ? `Unknown function '${name}'`
          : `Function '${name}' has no version ${version}`,
      );
    }
    return r;
  }

  /** Every version of a function, oldest first. */
  async listVersions(name: string): Promise<VersionRecord[]> {
    const out: VersionRecord[] = [];
    for await (
      const e of this.#kv.list<VersionRecord>({ prefix: ["function_versions", name] })
    ) out.push(e.value);
    return out;
  }

  /** The aliases of a function. */
  async aliases(name: string): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for await (const e of this.#kv.list<number>({ prefix: ["function_aliases", name] })) {
      out[e.key[2] as string] = e.value;
    }
    return out;
  }

  /** The source of a digest. */
  async getSource(digest: string): Promise<string> {
    const chunks: Uint8Array[] = [];
    for await (const e of this.#kv.list<Uint8Array>({ prefix: ["function_sources", digest] })) {
      chunks.push(e.value);
    }
    if (chunks.length === 0) throw new NotFoundError(`No source stored for digest ${digest}`);
    return new TextDecoder().decode(joinBytes(chunks));
  }

  /**
   * Stores a new version (number: the function's latest + 1), its source,
   * and points `latest` and `aliases` at it, in one atomic operation; a
   * concurrent deploy of the same name takes the next number.
   */
  async addVersion(
    draft: Omit<VersionRecord, "version">,
    source: string,
    aliases: readonly string[],
  ): Promise<VersionRecord> {
    const bytes = new TextEncoder().encode(source);
    for (let attempt = 0; attempt < 16; attempt++) {
      const current = await this.#kv.get<FunctionRecord>(FUNCTION_KEYS.fn(draft.name));
      const version = (current.value?.latest ?? 0) + 1;
      const record: VersionRecord = { ...draft, version };
      const op = this.#kv.atomic()
        .check(current)
        .set(
          FUNCTION_KEYS.fn(draft.name),
          {
            name: draft.name,
            latest: version,
            createdAt: current.value?.createdAt ?? draft.deployedAt,
          } satisfies FunctionRecord,
        )
        .set(FUNCTION_KEYS.version(draft.name, version), record);
      for (let i = 0; i * CHUNK_BYTES < bytes.byteLength; i++) {
        op.set(
          FUNCTION_KEYS.source(draft.digest, i),
          bytes.slice(i * CHUNK_BYTES, (i + 1) * CHUNK_BYTES),
        );
      }
      for (const a of new Set(["latest", ...aliases])) {
        op.set(FUNCTION_KEYS.alias(draft.name, a), version);
      }
      if ((await op.commit()).ok) return record;
    }
    throw new ConflictError(`Function '${draft.name}' is being deployed by many callers at once`);
  }

  /** Points an alias at an existing version (a rollback moves `prod` back). */
  async setAlias(name: string, alias: string, version: number): Promise<void> {
    const v = await this.#kv.get(FUNCTION_KEYS.version(name, version));
    if (v.value === null) await this.getVersion(name, version);
    const ok = await this.#kv.atomic().check(v).set(FUNCTION_KEYS.alias(name, alias), version)
      .commit();
    if (!ok.ok) throw new ConflictError(`Version ${version} of '${name}' changed: try again`);
  }

  /** Removes an alias (not `latest`, which always names the newest version). */
  async deleteAlias(name: string, alias: string): Promise<void> {
    if (alias === "latest") {
      throw new InvalidRequestError(
        "Alias 'latest' cannot be removed: it names the newest version",
      );
    }
    const a = await this.#kv.get(FUNCTION_KEYS.alias(name, alias));
    if (a.value === null) throw new NotFoundError(`Function '${name}' has no alias '${alias}'`);
    await this.#kv.atomic().check(a).delete(FUNCTION_KEYS.alias(name, alias)).commit();
  }

  /**
   * Deletes one version, and its source when no other version holds the
   * same digest. Refused while an alias points at it.
   */
  async deleteVersion(name: string, version: number): Promise<void> {
    const record = await this.getVersion(name, version);
    const aliases = Object.entries(await this.aliases(name)).filter(([, v]) => v === version);
    if (aliases.length > 0) {
      throw new ConflictError(
        `Version ${version} of '${name}' is what ${
          aliases.map(([a]) => `'${a}'`).join(", ")
        } point at: move the alias first, or delete the function`,
      );
    }
    const op = this.#kv.atomic().delete(FUNCTION_KEYS.version(name, version));
    if (!(await this.#digestUsedElsewhere(record.digest, name, version))) {
      for await (const e of this.#kv.list({ prefix: ["function_sources", record.digest] })) {
        op.delete(e.key);
      }
    }
    await op.commit();
  }

  /** Deletes a function: its versions, sources no other function holds, and aliases. */
  async deleteFunction(name: string): Promise<void> {
    if ((await this.getFunction(name)) === undefined) {
      throw new NotFoundError(`Unknown function '${name}'`);
    }
    const keys: Deno.KvKey[] = [];
    for (const v of await this.listVersions(name)) {
      keys.push(FUNCTION_KEYS.version(name, v.version));
      if (!(await this.#digestUsedElsewhere(v.digest, name))) {
        for await (const e of this.#kv.list({ prefix: ["function_sources", v.digest] })) {
          keys.push(e.key);
        }
      }
    }
    for await (const e of this.#kv.list({ prefix: ["function_aliases", name] })) keys.push(e.key);
    const unique = [...new Map(keys.map((k) => [JSON.stringify(k), k])).values()];
    // The function record goes last, so a crash part-way leaves it findable and deletable.
    for (let i = 0; i < unique.length; i += 500) {
      const op = this.#kv.atomic();
      for (const k of unique.slice(i, i + 500)) op.delete(k);
      await op.commit();
    }
    await this.#kv.delete(FUNCTION_KEYS.fn(name));
  }

  /** Stores a pipeline. */
  async putPipeline(record: PipelineRecord): Promise<void> {
    await this.#kv.set(FUNCTION_KEYS.pipeline(record.name), record);
  }

  /** Every pipeline. */
  async listPipelines(): Promise<PipelineRecord[]> {
    const out: PipelineRecord[] = [];
    for await (const e of this.#kv.list<PipelineRecord>({ prefix: ["pipelines"] })) {
      out.push(e.value);
    }
    return out;
  }

  /** Deletes a pipeline with its runs and results. */
  async deletePipeline(name: string): Promise<void> {
    const keys: Deno.KvKey[] = [];
    for (
      const prefix of [
        ["pipeline_runs", name],
        ["pipeline_results", name],
        ["pipeline_runs_deleted", name],
        ["pipeline_results_deleted", name],
      ]
    ) {
      for await (const e of this.#kv.list({ prefix })) keys.push(e.key);
    }
    for (let i = 0; i < keys.length; i += 500) {
      const op = this.#kv.atomic();
      for (const k of keys.slice(i, i + 500)) op.delete(k);
      await op.commit();
    }
    await this.#kv.delete(FUNCTION_KEYS.pipeline(name));
  }

  /** Writes a run's state; keeps the newest `keep` runs of the pipeline. */
  async putRun(run: RunRecord, keep: number): Promise<void> {
    await this.#kv.set(FUNCTION_KEYS.run(run.pipeline, run.version), run);
    await this.#prune(["pipeline_runs", run.pipeline], run.version, keep);
  }

  /** The newest runs of a pipeline, newest first. */
  async listRuns(name: string, limit: number): Promise<RunRecord[]> {
    const out: RunRecord[] = [];
    for await (
      const e of this.#kv.list<RunRecord>({ prefix: ["pipeline_runs", name] }, {
        reverse: true,
        limit,
      })
    ) out.push(e.value);
    return out;
  }

  /**
   * Sets a pipeline's runs aside as those of its source dataset, created at
   * `createdAt` and deleted at `deletedAt`; the runs of a dataset created
   * again under the name start afresh. Its values are set aside with them
   * (`["pipeline_results_deleted", name, sourceCreatedAt, version]`).
   */
  async setRunsAside(name: string, createdAt: number, deletedAt: number): Promise<void> {
    const runs: Deno.KvEntry<RunRecord>[] = [];
    for await (const e of this.#kv.list<RunRecord>({ prefix: ["pipeline_runs", name] })) {
      runs.push(e);
    }
    const results: Deno.KvEntry<unknown>[] = [];
    for await (const e of this.#kv.list({ prefix: ["pipeline_results", name] })) results.push(e);
    const moves = [
      ...runs.map((e) => ({
        from: e.key,
        to: FUNCTION_KEYS.deletedRun(name, createdAt, e.value.version),
        value: { ...e.value, deletedSource: { createdAt, deletedAt } } as unknown,
      })),
      ...results.map((e) => ({
        from: e.key,
        to: ["pipeline_results_deleted", name, createdAt, e.key[2]!] as Deno.KvKey,
        value: e.value,
      })),
    ];
    for (let i = 0; i < moves.length; i += 200) {
      const op = this.#kv.atomic();
      for (const m of moves.slice(i, i + 200)) op.set(m.to, m.value).delete(m.from);
      await op.commit();
    }
  }

  /** The newest runs of a pipeline's deleted source datasets, newest dataset first. */
  async listDeletedSourceRuns(name: string, limit: number): Promise<RunRecord[]> {
    const out: RunRecord[] = [];
    for await (
      const e of this.#kv.list<RunRecord>({ prefix: ["pipeline_runs_deleted", name] }, {
        reverse: true,
        limit,
      })
    ) out.push(e.value);
    return out;
  }

  /** Stores a pipeline's merged value for a version; keeps the newest `keep`. */
  async putResult(
    name: string,
    version: number,
    result: { json: string; lineage: Lineage },
    keep: number,
  ): Promise<void> {
    await this.#kv.set(FUNCTION_KEYS.result(name, version), result);
    await this.#prune(["pipeline_results", name], version, keep);
  }

  /** A pipeline's value for a version, or undefined. */
  async getResult(
    name: string,
    version: number,
  ): Promise<{ json: string; lineage: Lineage } | undefined> {
    return (await this.#kv.get<{ json: string; lineage: Lineage }>(
      FUNCTION_KEYS.result(name, version),
    )).value ?? undefined;
  }

  /** The newest result versions of a pipeline. */
  async resultVersions(name: string, limit: number): Promise<number[]> {
    const out: number[] = [];
    for await (
      const e of this.#kv.list({ prefix: ["pipeline_results", name] }, { reverse: true, limit })
    ) out.push(e.key[2] as number);
    return out;
  }

  /** Records where a derived dataset's version came from; keeps the newest `keep`. */
  async putLineage(dataset: string, version: number, lineage: Lineage, keep: number) {
    await this.#kv.set(FUNCTION_KEYS.lineage(dataset, version), lineage);
    await this.#prune(["lineage", dataset], version, keep);
  }

  /** A derived dataset version's lineage, or `NotFoundError`. */
  async getLineage(dataset: string, version: number): Promise<Lineage> {
    const r = (await this.#kv.get<Lineage>(FUNCTION_KEYS.lineage(dataset, version))).value;
    if (r === null) {
      throw new NotFoundError(
        `No lineage for version ${version} of '${dataset}': no function produced it`,
      );
    }
    return r;
  }

  async #prune(prefix: Deno.KvKey, newest: number, keep: number): Promise<void> {
    const old: Deno.KvKey[] = [];
    for await (
      const e of this.#kv.list({ prefix, end: [...prefix, newest - keep + 1] })
    ) old.push(e.key);
    if (old.length === 0) return;
    const op = this.#kv.atomic();
    for (const k of old.slice(0, 500)) op.delete(k);
    await op.commit();
  }

  async #digestUsedElsewhere(digest: string, name: string, version?: number): Promise<boolean> {
    for await (const e of this.#kv.list<VersionRecord>({ prefix: ["function_versions"] })) {
      if (e.value.digest !== digest) continue;
      if (e.value.name === name && (version === undefined || e.value.version === version)) continue;
      return true;
    }
    return false;
  }
}
