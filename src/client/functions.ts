/**
 * The client of the function, pipeline and lineage routes.
 *
 * @module
 */

import type { FragmentLayout } from "../transform/layout.ts";
import { httpRequest } from "../http/call.ts";
import { errorOfAnswer, payloadSizeError, type ServerError } from "./errors.ts";
import { ApiCalls } from "./_api.ts";

/** A deployed version, as the server describes it. */
export type FunctionVersionInfo = Record<string, unknown> & {
  readonly name: string;
  readonly version: number;
  readonly digest: string;
};

/** What an invocation returns. */
export interface Invoked {
  /** The function version that ran. */
  readonly function: { readonly name: string; readonly version: number; readonly digest: string };
  /** The source dataset and version it read. */
  readonly source: { readonly dataset: string; readonly version: number };
  /** Calls made (one per fragment with `each`). */
  readonly calls: number;
  /** Log lines of the calls. */
  readonly logs: readonly string[];
  /** The value, for functions that return one. */
  readonly value?: unknown;
  /** The output fragment's bytes, for functions that output a dataset. */
  readonly bytes?: Uint8Array;
  /** Their layout. */
  readonly layout?: FragmentLayout;
}

/** What to invoke a function on. */
export interface InvokeOptions {
  /** Alias or version (default `latest`). */
  readonly use?: string | number;
  /** Source version (default `latest`). */
  readonly version?: number | "latest";
  /** Parameters of the function's input fragment. */
  readonly params?: Readonly<Record<string, number>>;
  /** Run once per published fragment and merge. */
  readonly each?: boolean;
  /** Arguments (`ctx.args`). */
  readonly args?: unknown;
  /** Wait this long for the version to be committed, in ms. */
  readonly wait?: number;
}

/**
 * Functions and pipelines of one server; `connect(url).functions`.
 *
 * @example
 * ```ts ignore
 * import { connect } from "./mod.ts";
 * const strata = connect("http://127.0.0.1:7070");
 * await strata.functions.deploy("histogram", await Deno.readTextFile("functions/histogram.ts"));
 * const { value } = await strata.functions.invoke("histogram", "particles", { each: true });
 * ```
 */
export class FunctionsClient {
  readonly #api: ApiCalls;

  /**
   * Creates the client of `url` (the server, without `/v1`); each call
   * fails once unanswered for `timeoutMs` beyond the wait it asks for (none
   * when undefined).
   */
  constructor(url: string, token?: string, timeoutMs?: number) {
    this.#api = new ApiCalls(url, token, timeoutMs);
  }

  /** Deploys a new version from TypeScript source; the server type-checks and dry-runs it. */
  async deploy(
    name: string,
    source: string,
    options: {
      readonly limits?: { timeMs?: number; memoryBytes?: number; outputBytes?: number };
      readonly aliases?: readonly string[];
    } = {},
  ): Promise<FunctionVersionInfo & { created: boolean }> {
    return await this.#api.json("PUT", `/functions/${enc(name)}`, { source, ...options });
  }

  /** Every function with its newest version and aliases. */
  async list(): Promise<Record<string, unknown>[]> {
    return (await this.#api.json<{ functions: Record<string, unknown>[] }>("GET", "/functions"))
      .functions;
  }

  /** A function's versions and aliases. */
  async describe(name: string): Promise<Record<string, unknown>> {
    return await this.#api.json("GET", `/functions/${enc(name)}`);
  }

  /** One version, with its source. */
  async version(name: string, version: number): Promise<FunctionVersionInfo & { source: string }> {
    return await this.#api.json("GET", `/functions/${enc(name)}/versions/${version}`);
  }

  /** Points an alias at a version (rollback: point it back). */
  async setAlias(name: string, alias: string, version: number): Promise<void> {
    await this.#api.json("PUT", `/functions/${enc(name)}/aliases/${enc(alias)}`, { version });
  }

  /** Removes an alias. */
  async deleteAlias(name: string, alias: string): Promise<void> {
    await this.#api.json("DELETE", `/functions/${enc(name)}/aliases/${enc(alias)}`);
  }

  /** Deletes a version no alias points at. */
  async deleteVersion(name: string, version: number): Promise<void> {
    await this.#api.json("DELETE", `/functions/${enc(name)}/versions/${version}`);
  }

  /** Deletes a function. */
  async delete(name: string): Promise<void> {
    await this.#api.json("DELETE", `/functions/${enc(name)}`);
  }

  /** Runs a function on a region (or every fragment) of a dataset version. */
  async invoke(name: string, dataset: string, options: InvokeOptions = {}): Promise<Invoked> {
    const res = await httpRequest(`${this.#api.base}/functions/${enc(name)}/invoke`, {
      // The deadline comes on top of the wait for the version the call asks for.
      ...this.#api.options(options.wait ?? 0),
      method: "POST",
      body: { dataset, ...options },
    });
    if (!res.ok) throw await errorOf(res);
    if ((res.headers.get("content-type") ?? "").startsWith("application/octet-stream")) {
      const meta = JSON.parse(res.headers.get("strata-function") ?? "{}");
      const layout = JSON.parse(res.headers.get("strata-layout") ?? "null") as FragmentLayout;
      const bytes = new Uint8Array(await res.arrayBuffer());
      const wrong = layout === null
        ? undefined
        : payloadSizeError(res.status, `result of ${name}`, layout.byteLength, bytes.byteLength);
      if (wrong !== undefined) throw wrong;
      return { ...meta, layout, bytes };
    }
    return await res.json() as Invoked;
  }

  /** Creates or replaces a pipeline. */
  async putPipeline(name: string, spec: Record<string, unknown>): Promise<Record<string, unknown>> {
    return await this.#api.json("PUT", `/pipelines/${enc(name)}`, spec);
  }

  /** A pipeline with its queue and newest runs. */
  async pipeline(
    name: string,
  ): Promise<Record<string, unknown> & { runs: Record<string, unknown>[] }> {
    return await this.#api.json("GET", `/pipelines/${enc(name)}`);
  }

  /** Every pipeline. */
  async listPipelines(): Promise<Record<string, unknown>[]> {
    return (await this.#api.json<{ pipelines: Record<string, unknown>[] }>("GET", "/pipelines"))
      .pipelines;
  }

  /** Deletes a pipeline. */
  async deletePipeline(name: string): Promise<void> {
    await this.#api.json("DELETE", `/pipelines/${enc(name)}`);
  }

  /** A pipeline's merged value for a version, with lineage. */
  async result(
    name: string,
    version: number | "latest" = "latest",
  ): Promise<{ version: number; value: unknown; lineage: Record<string, unknown> }> {
    return await this.#api.json("GET", `/pipelines/${enc(name)}/results/${version}`);
  }

  /** Where a derived dataset's version came from. */
  async lineage(dataset: string, version: number): Promise<Record<string, unknown>> {
    return await this.#api.json("GET", `/datasets/${enc(dataset)}/versions/${version}/lineage`);
  }
}

async function errorOf(res: Response): Promise<ServerError> {
  return errorOfAnswer(res.status, await res.text());
}

function enc(s: string): string {
  return encodeURIComponent(s);
}
