/**
 * The typed client of Strata's HTTP API.
 *
 * @module
 */

import type { Description } from "../ddl/ast.ts";
import type { FragmentLayout } from "../transform/layout.ts";
import {
  InvalidRequestError,
  NotHereError,
  SizeMismatchError,
  WaitTimeoutError,
} from "../errors.ts";
import { httpJson, httpRequest } from "../http/call.ts";
import { errorOfAnswer, fromAnswer, payloadSizeError, type ServerError } from "./errors.ts";
import { FunctionsClient } from "./functions.ts";
import { ApiCalls } from "./_api.ts";
import { fieldArray, type NumericArray } from "./typed.ts";
import { readSteps, type Step } from "./steps.ts";

/** Options of `connect()`. */
export interface ConnectOptions {
  /** Bearer token sent with mutating requests. */
  readonly token?: string;
  /**
   * Longest wait asked of the server in one request, in ms (default an
   * hour, what a server grants by default: its `maxWaitMs`); a longer
   * `waitMs` is asked again until it runs out.
   */
  readonly waitPerRequestMs?: number;
  /**
   * Fails a call that has gone unanswered this long, in ms, with
   * `UnavailableError` ("Server <url> did not answer within <ms> ms"), on
   * top of the wait it asks the server for (an attach's `waitMs`): by
   * default `DEFAULT_TIMEOUT_MS` (5 minutes), `null` for none. The bytes of
   * a publish or an attach are sent and read within it, and a function
   * call's run (beyond its `wait`) must end within it; of `steps()` (a
   * stream) only the answer's head is (a stream silent for 30 s, not even
   * a heartbeat, fails instead).
   */
  readonly timeoutMs?: number | null;
}

/**
 * A call's deadline when `connect()` is given none, ms: 5 minutes beyond
 * the wait it asks for, so a server stopped or cut off without closing its
 * connections fails a call rather than hanging it.
 */
export const DEFAULT_TIMEOUT_MS = 300_000;

/** Options of `createDataset()`. */
export interface CreateDatasetOptions {
  /** Committed versions kept; older ones are retired and their bytes freed. */
  readonly retention?: number;
  /** Write fragment bytes through to the file tier, so they survive restarts. */
  readonly durable?: boolean;
  /** Allow publishing the same region of a version twice (the last one wins). */
  readonly overwrite?: boolean;
  /** Values of size variables for variable-sized arrays. */
  readonly sizes?: Readonly<Record<string, number>>;
  /** Nodes where consumers will attach it (the consumer-near placement policy places copies there). */
  readonly consumers?: readonly string[];
}

/** Options of `publish()`. */
export interface PublishOptions {
  /** Fragment parameters. */
  readonly params?: Readonly<Record<string, number>>;
  /** Called as the body is sent (per 1 MiB piece): bytes so far and in all. */
  readonly onProgress?: (done: number, total: number) => void;
  /**
   * How the bytes reach the runtime: `body` (default) in the request body;
   * `shm` through a file the runtime stages on its shm tier, which this
   * process writes (same node only; in the body when the runtime cannot
   * stage them).
   */
  readonly via?: "body" | "shm";
}

/** Which version to attach. */
export interface AttachOptions {
  /** A version number, or `latest` (the default). */
  readonly version?: number | "latest";
  /** Wait up to this many milliseconds for `version` (or a later one) to be committed. */
  readonly waitMs?: number;
  /** Fragment parameters. */
  readonly params?: Readonly<Record<string, number>>;
  /**
   * Read the bytes into this buffer instead of a new one (`bytes` of the
   * result is then `into`): exactly the fragment's byte length, else an
   * `InvalidRequestError` before anything is written. When the body breaks
   * off, `into` may hold part of the bytes and must not be used.
   */
  readonly into?: Uint8Array;
  /** Called as the payload arrives (per chunk, not per byte): bytes so far and in all. */
  readonly onProgress?: (done: number, total: number) => void;
}

/** Options of `steps()`: the subscription, what is fetched ahead, how long each step is awaited. */
export interface StepsOptions {
  /** Fragment parameters. */
  readonly params?: Readonly<Record<string, number>>;
  /** First version wanted (default 1). */
  readonly from?: number;
  /** Most versions queued for this reader at the name server (1 to 1024, default 16). */
  readonly limit?: number;
  /** A full queue: `drop-oldest` (default), `fail`, or `block` (the producer's commits wait). */
  readonly policy?: "drop-oldest" | "fail" | "block";
  /** With `block`: the longest hold of the commits, in ms. */
  readonly blockMs?: number;
  /** A consumer group: readers of one group share the versions, each to one of them. */
  readonly group?: string;
  /** How the group picks a reader: `first-free` (default) or `round-robin`. */
  readonly assign?: "first-free" | "round-robin";
  /** Versions the runtime fetches ahead of the one read (1 to 16, default 2). */
  readonly ahead?: number;
  /** Longest wait for each next version, in ms (default 60 000); the steps end when it runs out. */
  readonly waitMs?: number;
}

/** Attached bytes and their layout. */
export interface Attached {
  /** The committed version the bytes come from. */
  readonly version: number;
  /** Layout of `bytes`. */
  readonly layout: FragmentLayout;
  /** The fragment's bytes in its layout. */
  readonly bytes: Uint8Array;
  /** A typed array over one contiguous field, such as `pos.x` or `t`, without copying. */
  field(name: string): NumericArray;
}

/** Result of a publish. */
export interface Published {
  /** Whether this publish completed the version's coverage and committed it. */
  readonly committed: boolean;
  /** Bytes published. */
  readonly byteLength: number;
  /** CRC-32 of the bytes. */
  readonly checksum: number;
}

/** What a flush did. */
export interface Flushed {
  /** Dataset name. */
  readonly dataset: string;
  /** Version flushed. */
  readonly version: number;
  /** The tier written to. */
  readonly tier: string;
  /** Copies of the version the node holds. */
  readonly copies: number;
  /** Copies written now (the others were there already). */
  readonly written: number;
  /** Bytes of those copies. */
  readonly bytes: number;
}

/** One tier of a node, as `nodes()` reports it. */
export interface TierStatus {
  /** Tier name. */
  readonly name: string;
  /** Kind: memory, shm, file or backing. */
  readonly kind: string;
  /** Capacity in bytes. */
  readonly capacity: number;
  /** Bytes held. */
  readonly used: number;
  /** Bytes free. */
  readonly free: number;
  /** Copies held. */
  readonly count: number;
  /** Whether copies survive a restart. */
  readonly persistent: boolean;
  /** Declared bandwidth, bytes per second. */
  readonly bandwidth: number;
  /** Declared latency, seconds. */
  readonly latency: number;
}

/** A hosted service, as `service()` reports it (with the service's own settings besides). */
export interface ServiceStatus {
  /** Its name. */
  readonly name: string;
  /** Its operations, `POST /v1/services/<name>/<operation>`. */
  readonly operations: readonly string[];
  /** Where its targets are. */
  readonly placement: {
    readonly numTargets: number;
    readonly virtualNodes: number;
    readonly runtimes: readonly { readonly name: string; readonly url: string | null }[];
  };
  /** Settings of its own (HEPnOS's `overwrite`, Mobject's `chunkBytes`, ...). */
  readonly [setting: string]: unknown;
}

/** A node, as `nodes()` reports it. */
export interface NodeStatus {
  /** Node name. */
  readonly node: string;
  /** Its placement policy and how often the default stood in for it. */
  readonly placement: {
    readonly name: string;
    readonly fallbacks: number;
    readonly lastProblem?: string;
  };
  /** Its tiers, fastest first. */
  readonly tiers: readonly TierStatus[];
  /** Bytes held on all tiers. */
  readonly used: number;
  /** Capacity of all tiers. */
  readonly capacity: number;
  /** Fragment copies held. */
  readonly fragments: number;
}

/**
 * Connects to a Strata server. No request is sent until a method is called.
 *
 * @example
 * ```ts ignore
 * import { connect } from "./client.ts";
 * const strata = connect("http://127.0.0.1:7070");
 * await strata.createDataset("particles", "dataset particles { var p [4]struct { x, y float64 } }");
 * await strata.publish("particles", 1, "dataset", new Float64Array(8));
 * const { field } = await strata.attach("particles", "dataset");
 * ```
 */
export function connect(url: string, options: ConnectOptions = {}): Client {
  return new Client(url, options);
}

/** A client of one server. */
export class Client {
  readonly #api: ApiCalls;
  readonly #waitSlice: number;

  /** Functions, pipelines and lineage of the same server. */
  readonly functions: FunctionsClient;

  /** Creates a client; prefer `connect()`. */
  constructor(url: string, options: ConnectOptions = {}) {
    const timeoutMs = options.timeoutMs === null
      ? undefined
      : options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#api = new ApiCalls(url, options.token, timeoutMs);
    this.#waitSlice = options.waitPerRequestMs ?? MAX_WAIT_PER_REQUEST_MS;
    this.functions = new FunctionsClient(url, options.token, timeoutMs);
  }

  /** Registers a dataset from its description (text, or the JSON form). */
  async createDataset(
    name: string,
    description: string | Description,
    options: CreateDatasetOptions = {},
  ): Promise<Record<string, unknown>> {
    const body = typeof description === "string"
      ? { name, description, ...options }
      : { name, descriptionJson: description, ...options };
    return await this.#api.json("POST", "/datasets", body);
  }

  /**
   * Summaries of the datasets by name, after the name `after` when given:
   * every one (the server answers at most 1,000 a request by default, and
   * this asks page after page), or, given `limit` (1 to 10,000), the first
   * page of at most so many.
   */
  listDatasets(
    page?: { readonly after?: string; readonly limit?: number },
  ): Promise<Record<string, unknown>[]> {
    return this.#listed("/datasets", "datasets", page);
  }

  /** A dataset's description, fragments, retention and versions. */
  async describeDataset(name: string): Promise<Record<string, unknown>> {
    return await this.#api.json("GET", `/datasets/${enc(name)}`);
  }

  /**
   * Deletes a dataset, its versions and their bytes. A dataset a pipeline
   * reads is refused (409 naming the pipeline) unless `force`, which stops
   * the pipeline's runs of it.
   */
  async deleteDataset(name: string, options: { readonly force?: boolean } = {}): Promise<void> {
    await this.#api.json("DELETE", `/datasets/${enc(name)}${options.force ? "?force=true" : ""}`);
  }

  /**
   * Publishes one fragment of a version: `data` must be exactly the
   * fragment's layout. With `onProgress`, the bytes are streamed in 1 MiB
   * pieces and each piece handed to the connection is reported. With `via:
   * "shm"` (a client on the runtime's node, allowed to write its shm tier's
   * directory), the bytes are written into a file the runtime stages on its
   * shm tier and published from there, not sent in the request body; a
   * runtime that cannot stage them (no shm tier with room, a size read
   * from the bytes) gets them in the body.
   */
  async publish(
    dataset: string,
    version: number,
    fragment: string,
    data: ArrayBufferView,
    options: PublishOptions = {},
  ): Promise<Published> {
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    const path = `/datasets/${enc(dataset)}/versions/${version}/fragments/${enc(fragment)}` +
      query(options.params ?? {});
    if (options.via === "shm") {
      const staged = await this.#publishStaged(path, fragment, bytes);
      if (staged !== undefined) return staged;
    }
    const onProgress = options.onProgress;
    if (onProgress === undefined) return await this.#api.json("PUT", path, bytes);
    let sent = 0;
    const piece = 1 << 20;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= bytes.byteLength) return controller.close();
        const chunk = bytes.subarray(sent, Math.min(sent + piece, bytes.byteLength));
        controller.enqueue(chunk);
        sent += chunk.byteLength;
        onProgress(sent, bytes.byteLength);
      },
    });
    return await httpJson<Published>(this.#api.base + path, {
      ...this.#api.options(),
      method: "PUT",
      rawBody: body,
      headers: { "content-type": "application/octet-stream" },
    }, errorOfAnswer);
  }

  /**
   * Writes `bytes` into a file the runtime stages on its shm tier, then has
   * the runtime publish it; undefined when the runtime answers `not_here`.
   */
  async #publishStaged(
    path: string,
    fragment: string,
    bytes: Uint8Array,
  ): Promise<Published | undefined> {
    let stage: { stage: string; path: string; byteLength: number };
    try {
      stage = await this.#api.json("POST", `${path.replace(/(\?|$)/, "/stage$1")}`);
    } catch (e) {
      if (e instanceof NotHereError) return undefined;
      throw e;
    }
    try {
      if (stage.byteLength !== bytes.byteLength) {
        throw new SizeMismatchError(fragment, stage.byteLength, bytes.byteLength, {
          message:
            `Cannot publish fragment '${fragment}': expected ${stage.byteLength} bytes, received ${bytes.byteLength}`,
        });
      }
      using file = await Deno.open(stage.path, { write: true });
      for (let at = 0; at < bytes.byteLength;) at += await file.write(bytes.subarray(at));
    } catch (e) {
      await this.#api.json("DELETE", `/stages/${enc(stage.stage)}`).catch(() => {});
      throw e;
    }
    return await this.#api.json("POST", `/stages/${enc(stage.stage)}`);
  }

  /** Commits a version explicitly; returns the versions retention retired. */
  async commit(dataset: string, version: number): Promise<{ version: number; retired: number[] }> {
    return await this.#api.json("POST", `/datasets/${enc(dataset)}/versions/${version}/commit`, {});
  }

  /**
   * Writes a version's copies to the backing tier (or `tier`), so a runtime
   * restarted over that tier serves it again.
   */
  async flush(
    dataset: string,
    version: number,
    options: { readonly tier?: string } = {},
  ): Promise<Flushed> {
    const q = options.tier === undefined ? {} : { tier: options.tier };
    return await this.#api.json(
      "POST",
      `/datasets/${enc(dataset)}/versions/${version}/flush${query(q)}`,
    );
  }

  /** Nodes with their tiers' capacity, usage and fragment counts. */
  async nodes(): Promise<NodeStatus[]> {
    return (await this.#api.json<{ nodes: NodeStatus[] }>("GET", "/nodes")).nodes;
  }

  /** The names of the services the server hosts (HEPnOS, FlameStore, Mobject, ...). */
  async services(): Promise<string[]> {
    return (await this.#api.json<{ services: string[] }>("GET", "/services")).services;
  }

  /**
   * One hosted service: its operations, its own settings and where its
   * targets are (`placement`: their count, virtual nodes, each runtime).
   */
  service(name: string): Promise<ServiceStatus> {
    return this.#api.json<ServiceStatus>("GET", `/services/${enc(name)}`);
  }

  /**
   * Versions of a dataset with their states, oldest first, above `after`
   * when given: every one (asked page after page), or, given `limit` (1 to
   * 10,000), the first page of at most so many.
   */
  versions(
    dataset: string,
    page?: { readonly after?: number; readonly limit?: number },
  ): Promise<Record<string, unknown>[]> {
    return this.#listed(`/datasets/${enc(dataset)}/versions`, "versions", page);
  }

  /** A list answered a page at a time: the first page given a `limit`, else every page from `after`. */
  async #listed(
    path: string,
    field: "datasets" | "versions",
    page: { readonly after?: string | number; readonly limit?: number } | undefined,
  ): Promise<Record<string, unknown>[]> {
    type Page = { [k: string]: unknown; next?: string | number };
    const ask = async (after: string | number | undefined, limit: number | undefined) => {
      const q = new URLSearchParams();
      if (after !== undefined) q.set("after", String(after));
      if (limit !== undefined) q.set("limit", String(limit));
      const got = await this.#api.json<Page>("GET", `${path}${q.size === 0 ? "" : `?${q}`}`);
      return { items: got[field] as Record<string, unknown>[], next: got.next };
    };
    if (page?.limit !== undefined) return (await ask(page.after, page.limit)).items;
    const all: Record<string, unknown>[] = [];
    for (let after = page?.after;;) {
      const got = await ask(after, undefined);
      all.push(...got.items);
      if (got.next === undefined) return all;
      after = got.next;
    }
  }

  /**
   * Attaches a fragment of a committed version, in the fragment's layout.
   * A `waitMs` longer than a server grants in one request
   * (`waitPerRequestMs`, an hour) is asked again until it runs out.
   */
  async attach(dataset: string, fragment: string, options: AttachOptions = {}): Promise<Attached> {
    const waitMs = options.waitMs;
    if (waitMs === undefined || waitMs <= this.#waitSlice) {
      return await this.#attachOnce(dataset, fragment, options);
    }
    const deadline = Date.now() + waitMs;
    for (;;) {
      const slice = Math.max(0, Math.min(this.#waitSlice, deadline - Date.now()));
      try {
        return await this.#attachOnce(dataset, fragment, { ...options, waitMs: slice });
      } catch (e) {
        if (!(e instanceof WaitTimeoutError) || Date.now() >= deadline) throw e;
      }
    }
  }

  async #attachOnce(dataset: string, fragment: string, options: AttachOptions): Promise<Attached> {
    const q: Record<string, number | string> = { ...(options.params ?? {}) };
    if (options.waitMs !== undefined) q.wait = options.waitMs;
    const v = options.version ?? "latest";
    const path = `/datasets/${enc(dataset)}/versions/${v}/fragments/${enc(fragment)}${query(q)}`;
    const res = await httpRequest(this.#api.base + path, this.#api.options(options.waitMs ?? 0));
    if (!res.ok) throw await errorOf(res);
    const layout = JSON.parse(res.headers.get("strata-layout") ?? "null") as FragmentLayout;
    const version = Number(res.headers.get("strata-version"));
    const expected = layout.byteLength;
    // A large fragment goes into a buffer of its size as it arrives: read
    // whole, its buffer would grow by doubling, in memory not touched yet.
    const bytes = options.into === undefined && options.onProgress === undefined &&
        expected < EXACT_FROM
      ? new Uint8Array(await res.arrayBuffer())
      : await readInto(res, options.into ?? new Uint8Array(expected), {
        fragment,
        expected,
        ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
      });
    const wrong = payloadSizeError(res.status, fragment, expected, bytes.byteLength);
    if (wrong !== undefined) throw wrong;
    return { version, layout, bytes, field: (name) => fieldArray(layout, bytes, name) };
  }

  /**
   * The committed versions of a fragment region as they come, over one
   * streamed response: the runtime subscribes to the dataset's commits and
   * fetches `ahead` versions while this reader works on one. Ends when no
   * version comes within `waitMs`; throws what else ends it. Each step's
   * bytes are the caller's own.
   *
   * @example
   * ```ts ignore
   * for await (const step of strata.steps("particles", "soa", { from: 1, ahead: 4 })) {
   *   console.log(step.version, step.bytes.byteLength);
   * }
   * ```
   */
  async *steps(
    dataset: string,
    fragment: string,
    options: StepsOptions = {},
  ): AsyncGenerator<Step, void, undefined> {
    const q: Record<string, number | string> = { ...(options.params ?? {}) };
    for (
      const k of [
        "from",
        "limit",
        "policy",
        "blockMs",
        "group",
        "assign",
        "ahead",
      ] as const
    ) {
      const v = options[k];
      if (v !== undefined) q[k] = v;
    }
    if (options.waitMs !== undefined) q.wait = options.waitMs;
    const path = `/datasets/${enc(dataset)}/fragments/${enc(fragment)}/steps${query(q)}`;
    // The stream has no deadline, its answer's head does: the runtime answers at once.
    const ms = this.#api.timeoutMs;
    const res = await httpRequest(this.#api.base + path, {
      ...this.#api.options(null),
      ...(ms === undefined ? {} : { headTimeoutMs: ms }),
    });
    if (!res.ok) throw await errorOf(res);
    yield* readSteps(res.body!, { peer: `Runtime ${this.#api.base.replace(/\/v1$/, "")}` });
  }

  /** Runs many registry operations in one request; each gets its own result or error. */
  async batch(ops: readonly Record<string, unknown>[]): Promise<Record<string, unknown>[]> {
    return (await this.#api.json<{ results: Record<string, unknown>[] }>("POST", "/batch", { ops }))
      .results;
  }
}

/** The longest wait a server grants one request by default (`maxWaitMs`): an hour. */
const MAX_WAIT_PER_REQUEST_MS = 3_600_000;

/**
 * Fragments from this size are read into a buffer of their size chunk by
 * chunk rather than whole (`Response.arrayBuffer()` grows its buffer by
 * doubling as the body arrives).
 */
const EXACT_FROM = 256 * 1024;

/** Reads a response body of `expected` bytes into `into`. */
async function readInto(
  res: Response,
  into: Uint8Array,
  { fragment, expected, onProgress }: {
    readonly fragment: string;
    readonly expected: number;
    readonly onProgress?: (done: number, total: number) => void;
  },
): Promise<Uint8Array> {
  if (into.byteLength !== expected) {
    await res.body?.cancel();
    throw new InvalidRequestError(
      `Cannot attach into a buffer of ${into.byteLength} bytes: expected ${expected}`,
    );
  }
  let off = 0;
  for await (const chunk of res.body ?? []) {
    if (off + chunk.byteLength > into.byteLength) {
      throw fromAnswer(
        res.status,
        new SizeMismatchError(fragment, expected, `more than ${expected}`, {
          message: `The server sent more than the ${expected} bytes of the fragment's layout`,
        }),
      );
    }
    into.set(chunk, off);
    off += chunk.byteLength;
    onProgress?.(off, expected);
  }
  if (off !== expected) {
    throw fromAnswer(
      res.status,
      new SizeMismatchError(fragment, expected, off, {
        message: `The server sent ${off} bytes: expected ${expected}`,
      }),
    );
  }
  return into;
}

async function errorOf(res: Response): Promise<ServerError> {
  return errorOfAnswer(res.status, await res.text());
}

function enc(s: string): string {
  return encodeURIComponent(s);
}

function query(q: Readonly<Record<string, number | string>>): string {
  const entries = Object.entries(q);
  if (entries.length === 0) return "";
  return "?" + entries.map(([k, v]) => `${enc(k)}=${enc(String(v))}`).join("&");
}
