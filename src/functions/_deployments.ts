/**
 * Deployments of functions: deploy (check, type-check, dry run, store an
 * immutable version), versions, aliases and deletes, and resolving an alias
 * or version for calls.
 *
 * @module
 */

import { ConflictError, NotFoundError, NotHereError } from "../errors.ts";
import type { Declaration } from "./declaration.ts";
import { checkAlias, checkFunctionName } from "./_names.ts";
import { checkLimits, limitsKey } from "./limits.ts";
import type { Loadable, SandboxPool } from "./pool.ts";
import { checkSource, digestOf, runnableSource } from "./source.ts";
import type { FunctionStore, VersionRecord } from "./store.ts";
import type { TypeChecker } from "./typecheck.ts";
import { dryRun } from "./_dry_run.ts";
import type { FunctionLookup, Resolved } from "./service.ts";

/** A function as `describe` answers it: its versions (without sources) and aliases. */
export interface FunctionDescription {
  /** Function name. */
  name: string;
  /** Its newest version. */
  latest: number;
  /** When it was first deployed (ms since the epoch). */
  createdAt: number;
  /** Aliases and the versions they name. */
  aliases: Record<string, number>;
  /** Every version, without its source. */
  versions: VersionRecord[];
}

/** The deployments a function service keeps or reads. */
export class Deployments {
  readonly #owned: FunctionStore | undefined;
  readonly #lookup: FunctionLookup;
  readonly #pool: SandboxPool;
  readonly #checker: TypeChecker | undefined;
  readonly #versions = new Map<string, Resolved>();
  readonly #aliases = new Map<string, Record<string, number>>();
  #inUse: (name: string) => string | undefined = () => undefined;

  /** Creates the deployments over a store (or a lookup of another process's). */
  constructor(options: {
    readonly store: FunctionStore | undefined;
    readonly lookup: FunctionLookup;
    readonly pool: SandboxPool;
    readonly checker: TypeChecker | undefined;
  }) {
    this.#owned = options.store;
    this.#lookup = options.lookup;
    this.#pool = options.pool;
    this.#checker = options.checker;
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
      declaration = await dryRun(this.#pool, name, digest, module);
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
  async describe(name: string): Promise<FunctionDescription> {
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

  #forget(name: string, version: number): void {
    const key = `${name}@${version}`;
    const hit = this.#versions.get(key);
    this.#versions.delete(key);
    if (hit !== undefined) this.#pool.evict(hit.module.key);
  }
}
