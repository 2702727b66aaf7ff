/**
 * The name service of a runtime in its own process: an HTTP client of one
 * or more name servers, each dataset on the one its name hashes to.
 *
 * @module
 */

import {
  BusyError,
  errorFromBody,
  InvalidConfigError,
  NotFoundError,
  UnavailableError,
  WaitTimeoutError,
} from "../errors.ts";
import {
  type CreateDatasetInput,
  type DatasetDescription,
  type DatasetPage,
  MAX_LIST_PAGE,
  type VersionPage,
} from "../registry/records.ts";
import {
  type CommitSubscription,
  type CopyRef,
  type DatasetSettings,
  type FragmentRecord,
  INLINE_MAX_BYTES,
  MAX_BLOCK_MS,
  type NameService,
  type NodeEntry,
  type PublishOptions,
  type ReleasedCopy,
  type SourceRecord,
  type SubscribeQuery,
} from "../name_service/name_service.ts";
import type { FragmentLayout } from "../transform/layout.ts";
import type { NodeView } from "./node_book.ts";
import type { ReleaseBatch } from "./release_log.ts";
import { controlCall } from "./control_call.ts";
import { shardOf } from "./shard.ts";
import { remoteSubscription } from "./remote_subscription.ts";

/** Options of a `RemoteNameService`. */
export interface RemoteNameOptions {
  /** Base URLs of the name servers, in the same order everywhere (the shard list). */
  readonly urls: readonly string[];
  /** This runtime's node name: whose release notices to follow. */
  readonly node: string;
  /** Bearer token of the name servers, when they require one. */
  readonly token?: string;
  /** How long one release poll waits at the name server, in ms (default 25 000). */
  readonly pollMs?: number;
  /**
   * Publish requests of one dataset under way at once (1 to 16, default 1);
   * the dataset's publishes made meanwhile wait and go together in the next
   * request. One measured fastest: whole versions over HTTP 17.3-19.5k/s
   * against 14.9-16.2k with 4, 4 rank processes 2.9-6.2k against 1.8-4.7k
   * (bench/commit_bench.ts, docs/nodes.md).
   */
  readonly publishRequests?: number;
  /**
   * How long a call may go unanswered before it fails with
   * `UnavailableError`, ms (default 60 000), on top of the wait it asks
   * the name server for (a lookup or a wait for a version, a poll for
   * release notices) and of the longest a subscriber may hold a commit
   * (`MAX_BLOCK_MS`, for publishes and commits). A name server that is
   * stopped or cut off without closing its connections is found out then
   * rather than never.
   */
  readonly callTimeoutMs?: number;
}

/** Longest wait one request asks a name server for; longer waits are asked again. */
const WAIT_SLICE_MS = 55_000;
/**
 * How long dataset settings and layouts are reused without asking again, in
 * ms: a producer publishing every step asks once a second instead of twice
 * per publish. A stale layout cannot do harm (the name server checks every
 * publish's size against its own); a dataset deleted and created again with
 * another `durable` setting is seen within this time.
 */
const CACHE_MS = 1000;
/** Entries kept in that cache. */
const CACHE_SIZE = 1024;

/**
 * `NameService` (and the dataset operations of the API) over HTTP. Dataset
 * names hash to name servers (`shardOf`); node lists and dataset lists are
 * merged from all. Release notices are long-polled from every name server
 * once a listener subscribes.
 *
 * @example
 * ```ts ignore
 * import { RemoteNameService } from "./name_client.ts";
 * const names = new RemoteNameService({ urls: ["http://127.0.0.1:7000"], node: "a" });
 * const settings = await names.datasetSettings("particles");
 * names.close();
 * ```
 */
export class RemoteNameService implements NameService {
  readonly #urls: readonly string[];
  readonly #node: string;
  readonly #token: string | undefined;
  readonly #pollMs: number;
  readonly #publishRequests: number;
  readonly #callTimeoutMs: number;
  readonly #listeners = new Set<
    (copies: readonly ReleasedCopy[], replayed?: boolean) => void
  >();
  readonly #stop = new AbortController();
  #following: Promise<void>[] = [];
  readonly #cache = new Map<string, { at: number; value: Promise<unknown> }>();
  /** This client's id in publish tickets, and its last publish request's number. */
  readonly #session = crypto.randomUUID();
  #publishSeq = 0;
  /**
   * Per dataset with publishes under way, those waiting for a request and
   * the requests under way (a dataset's queue goes once it is idle).
   */
  readonly #publishing = new Map<string, PublishQueue>();

  /** Creates a client; no request is sent until a method is called. */
  constructor(options: RemoteNameOptions) {
    if (options.urls.length === 0) {
      throw new InvalidConfigError("No name server: expected at least one URL");
    }
    this.#urls = options.urls.map((u) => u.replace(/\/+$/, ""));
    this.#node = options.node;
    this.#token = options.token;
    this.#pollMs = options.pollMs ?? 25_000;
    this.#publishRequests = options.publishRequests ?? 1;
    this.#callTimeoutMs = options.callTimeoutMs ?? 60_000;
    if (!Number.isSafeInteger(this.#callTimeoutMs) || this.#callTimeoutMs < 1) {
      throw new InvalidConfigError(
        `Invalid callTimeoutMs: expected an integer >= 1, found ${options.callTimeoutMs}`,
      );
    }
    if (
      !Number.isSafeInteger(this.#publishRequests) || this.#publishRequests < 1 ||
      this.#publishRequests > 16
    ) {
      throw new InvalidConfigError(
        `Invalid publishRequests: expected an integer from 1 to 16, found ${options.publishRequests}`,
      );
    }
  }

  /** The name server that holds `dataset`. */
  urlOf(dataset: string): string {
    return this.#urls[shardOf(dataset, this.#urls.length)]!;
  }

  /** Subscribes to a dataset's commits at its name server, over one streamed response. */
  subscribe(query: SubscribeQuery): CommitSubscription {
    return remoteSubscription(this.urlOf(query.dataset), this.#token, query);
  }

  datasetSettings(name: string): Promise<DatasetSettings> {
    return this.#cached(
      `s/${name}`,
      () => this.#call(this.urlOf(name), "GET", `/v1/cluster/datasets/${enc(name)}/settings`),
    );
  }

  /** The sizes a version is laid out with; not cached: an open version gains them. */
  async versionSizes(dataset: string, version: number): Promise<Record<string, number>> {
    const r = await this.#call<{ sizes: Record<string, number> }>(
      this.urlOf(dataset),
      "GET",
      `/v1/cluster/datasets/${enc(dataset)}/versions/${version}/sizes`,
    );
    return r.sizes;
  }

  fragmentLayout(
    dataset: string,
    fragment: string,
    bindings: Readonly<Record<string, number>>,
  ): Promise<FragmentLayout> {
    const path = `/v1/cluster/datasets/${enc(dataset)}/fragments/${enc(fragment)}/layout${
      query(Object.fromEntries(Object.entries(bindings).sort()))
    }`;
    return this.#cached(`l${path}`, () => this.#call(this.urlOf(dataset), "GET", path));
  }

  /** Records that a copy moved to another tier of its node (a spill or a flush). */
  async relocateFragment(copy: CopyRef, tier: string): Promise<boolean> {
    const r = await this.#call<{ relocated: boolean }>(
      this.urlOf(copy.dataset),
      "POST",
      "/v1/cluster/relocate",
      { copy, tier },
    );
    return r.relocated;
  }

  /** Which of `copies` are registered as held by their node, asking each copy's name server. */
  async heldCopies(copies: readonly CopyRef[]): Promise<boolean[]> {
    const byUrl = new Map<string, number[]>();
    copies.forEach((c, i) => {
      const url = this.urlOf(c.dataset);
      byUrl.set(url, [...(byUrl.get(url) ?? []), i]);
    });
    const out = new Array<boolean>(copies.length).fill(false);
    await Promise.all([...byUrl].map(async ([url, at]) => {
      const r = await this.#call<{ held: boolean[] }>(url, "POST", "/v1/cluster/held", {
        copies: at.map((i) => copies[i]),
      });
      at.forEach((i, k) => out[i] = r.held[k] === true);
    }));
    return out;
  }

  /** Records a further copy of a registered fragment, held by `copy.node`. */
  async addReplica(copy: CopyRef, tier: string): Promise<boolean> {
    const r = await this.#call<{ added: boolean }>(
      this.urlOf(copy.dataset),
      "POST",
      "/v1/cluster/replicas",
      { copy, tier },
    );
    return r.added;
  }

  /** Forgets `copy.node`'s copy of a fragment while another copy stays registered. */
  async dropCopy(copy: CopyRef): Promise<boolean> {
    const r = await this.#call<{ dropped: boolean }>(
      this.urlOf(copy.dataset),
      "POST",
      "/v1/cluster/drop",
      { copy },
    );
    return r.dropped;
  }

  /**
   * Registers a copy. Publishes of one dataset are registered in the order
   * of these calls although requests travel on connections of their own:
   * each request names the dataset's previous one still unanswered, which
   * the name server registers first (publish_order.ts). At most
   * `publishRequests` requests of a dataset are under way (one by default); its publishes
   * made meanwhile wait and go together in the next one
   * (`/v1/cluster/publishes`), each answered on its own. Datasets do not
   * wait for each other (a commit held by a subscriber holds its own
   * dataset's publishes only).
   */
  publishFragment(
    record: FragmentRecord,
    options: PublishOptions = {},
  ): Promise<{ readonly committed: boolean }> {
    const url = this.urlOf(record.dataset);
    // A small copy's bytes go along as base64 text, encoded now: the
    // request may leave after this call returns.
    const inline = options.inline === undefined || options.inline.byteLength > INLINE_MAX_BYTES
      ? undefined
      : options.inline.toBase64();
    let q = this.#publishing.get(record.dataset);
    if (q === undefined) {
      q = {
        dataset: record.dataset,
        inFlight: 0,
        waiting: [],
        unanswered: undefined,
        underWay: new Map(),
      };
      this.#publishing.set(record.dataset, q);
    }
    const queue = q;
    if (queue.waiting.length >= MAX_WAITING_PUBLISHES) {
      return Promise.reject(
        new BusyError(
          `${queue.waiting.length} publishes of '${record.dataset}' already wait for the name server at ${url} (it answers slowly, or a 'block' subscriber holds the dataset's commits): publish again once they are answered`,
          { fields: { dataset: record.dataset, limit: MAX_WAITING_PUBLISHES } },
        ),
      );
    }
    const done = new Promise<{ readonly committed: boolean }>((resolve, reject) => {
      queue.waiting.push({
        body: inline === undefined ? record : { ...record, inline },
        inlineChars: inline?.length ?? 0,
        resolve,
        reject,
      });
    });
    // A copy of a version with copies under way may be the one that closes
    // it: it never waits behind them (their commit, or the name server's
    // hold of them, may wait for it).
    this.#sendPublishes(url, queue, queue.underWay.has(record.version));
    return done;
  }

  /**
   * Sends the waiting publishes of `q` while fewer than `publishRequests`
   * requests are under way, or at once when `urgent` (up to
   * `MAX_PUBLISH_REQUESTS`).
   */
  #sendPublishes(url: string, q: PublishQueue, urgent = false): void {
    while (
      q.waiting.length > 0 &&
      (q.inFlight < this.#publishRequests || (urgent && q.inFlight < MAX_PUBLISH_REQUESTS))
    ) {
      urgent = false;
      // At most PUBLISH_BATCH records and PUBLISH_INLINE_CHARS of inline bytes' text.
      let n = 0;
      for (let chars = 0; n < q.waiting.length && n < PUBLISH_BATCH; n++) {
        chars += q.waiting[n]!.inlineChars;
        if (n > 0 && chars > PUBLISH_INLINE_CHARS) break;
      }
      const items = q.waiting.splice(0, n);
      for (const i of items) {
        q.underWay.set(i.body.version, (q.underWay.get(i.body.version) ?? 0) + 1);
      }
      const seq = ++this.#publishSeq;
      const after = q.unanswered;
      q.unanswered = seq;
      const ticket = `session=${this.#session}&seq=${seq}${
        after === undefined ? "" : `&after=${after}`
      }`;
      q.inFlight++;
      const sent = items.length === 1
        ? this.#call<{ committed: boolean }>(
          url,
          "POST",
          `/v1/cluster/publish?${ticket}`,
          items[0]!.body,
          MAX_BLOCK_MS,
        )
          .then((r) => items[0]!.resolve(r))
        : this.#call<{ results: ({ committed: boolean } | { error: unknown })[] }>(
          url,
          "POST",
          `/v1/cluster/publishes?${ticket}`,
          { records: items.map((i) => i.body) },
          MAX_BLOCK_MS,
        ).then(({ results }) => {
          items.forEach((item, k) => {
            const r = results[k];
            if (r !== undefined && "committed" in r) item.resolve({ committed: r.committed });
            else {
              item.reject(
                errorFromBody(r?.error) ??
                  new UnavailableError(`Name server ${url} answered no result for a publish`),
              );
            }
          });
        });
      sent.catch((e) => {
        for (const item of items) item.reject(e);
      }).finally(() => {
        if (q.unanswered === seq) q.unanswered = undefined;
        q.inFlight--;
        for (const i of items) {
          const left = q.underWay.get(i.body.version)! - 1;
          if (left === 0) q.underWay.delete(i.body.version);
          else q.underWay.set(i.body.version, left);
        }
        this.#sendPublishes(url, q);
        if (q.inFlight === 0 && q.waiting.length === 0) this.#publishing.delete(q.dataset);
      });
    }
  }

  /**
   * The copies of a fragment region of a committed version. With `waitMs`
   * the name server waits for the version in the same request (asked again
   * past its longest wait), so that an attach waiting for its next version
   * costs one round trip.
   */
  attachFragments(
    q: {
      readonly dataset: string;
      readonly version: number | "latest";
      readonly fragment: string;
      readonly bindings: Readonly<Record<string, number>>;
    },
    options: { readonly waitMs?: number } = {},
  ): Promise<
    { version: number; layout: FragmentLayout; sources: SourceRecord[]; createdAt?: number }
  > {
    const url = this.urlOf(q.dataset);
    const { waitMs } = options;
    if (waitMs === undefined) return this.#call(url, "POST", "/v1/cluster/lookup", q);
    const atLeast = q.version === "latest" ? 1 : q.version;
    return this.#sliced(
      waitMs,
      (slice) => this.#call(url, "POST", "/v1/cluster/lookup", { ...q, waitMs: slice }, slice),
      { dataset: q.dataset, version: atLeast },
    );
  }

  async waitForVersion(
    dataset: string,
    atLeast: number,
    options: { readonly timeoutMs: number },
  ): Promise<number> {
    const r = await this.#sliced(
      options.timeoutMs,
      (slice) =>
        this.#call<{ version: number }>(
          this.urlOf(dataset),
          "GET",
          `/v1/cluster/datasets/${enc(dataset)}/wait${query({ atLeast, timeoutMs: slice })}`,
          undefined,
          slice,
        ),
      { dataset, version: atLeast },
    );
    return r.version;
  }

  /**
   * A wait of `ms` at the name server, asked in slices no longer than it
   * serves; `WaitTimeoutError` for the whole wait once all of it has passed.
   */
  async #sliced<T>(
    ms: number,
    ask: (slice: number) => Promise<T>,
    awaited: { readonly dataset: string; readonly version: number },
  ): Promise<T> {
    const until = Date.now() + ms;
    for (;;) {
      const left = Math.max(0, until - Date.now());
      const slice = Math.min(left, WAIT_SLICE_MS);
      try {
        return await ask(slice);
      } catch (e) {
        if (e instanceof WaitTimeoutError && slice < left) continue;
        if (e instanceof WaitTimeoutError) {
          throw new WaitTimeoutError(awaited.dataset, awaited.version, ms);
        }
        throw e;
      }
    }
  }

  commitVersion(
    dataset: string,
    version: number,
  ): Promise<{ version: number; retired: FragmentRecord[] }> {
    return this.#call(
      this.urlOf(dataset),
      "POST",
      `/v1/cluster/datasets/${enc(dataset)}/versions/${version}/commit`,
      {},
      MAX_BLOCK_MS,
    );
  }

  /**
   * Live nodes from every name server that answers (a node registers with
   * each, so one is enough); fails only when none answers.
   */
  async listNodes(): Promise<NodeEntry[]> {
    const lists = await this.#fromAny((u) =>
      this.#call<{ nodes: NodeEntry[] }>(u, "GET", "/v1/cluster/nodes")
    );
    const best = new Map<string, NodeEntry>();
    for (const n of lists.flatMap((l) => l.nodes)) {
      const had = best.get(n.id);
      if (had === undefined || had.leaseUntil < n.leaseUntil) best.set(n.id, n);
    }
    return [...best.values()];
  }

  /** Nodes as `GET /v1/nodes` shows them, merged from every name server that answers. */
  async nodes(): Promise<NodeView[]> {
    const lists = await this.#fromAny((u) =>
      this.#call<{ nodes: NodeView[] }>(u, "GET", "/v1/nodes")
    );
    const best = new Map<string, NodeView>();
    for (const n of lists.flatMap((l) => l.nodes)) {
      const had = best.get(n.id);
      if (had === undefined || (had.state === "down" && n.state === "up")) best.set(n.id, n);
    }
    return [...best.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
  }

  /** Registers this node with every name server, with a lease. */
  async registerNode(
    node: { id: string; url: string; wire?: string; tiers: readonly unknown[] },
    leaseMs: number,
  ): Promise<void> {
    await Promise.all(
      this.#urls.map((u) => this.#call(u, "POST", "/v1/cluster/nodes", { ...node, leaseMs })),
    );
  }

  /**
   * Renews this node's lease with every name server; one that lost it
   * (`not_found`: the lease lapsed, or the name server restarted without
   * it) gets the registration again.
   */
  async renewNode(
    node: { id: string; url: string; wire?: string; tiers: readonly unknown[] },
    leaseMs: number,
  ): Promise<void> {
    await Promise.all(this.#urls.map(async (u) => {
      try {
        await this.#call(u, "POST", `/v1/cluster/nodes/${enc(node.id)}/renew`, {
          leaseMs,
          tiers: node.tiers,
        });
      } catch (e) {
        if (!(e instanceof NotFoundError)) throw e;
        await this.#call(u, "POST", "/v1/cluster/nodes", { ...node, leaseMs });
      }
    }));
  }

  onRelease(
    listener: (copies: readonly ReleasedCopy[], replayed?: boolean) => void,
  ): () => void {
    this.#listeners.add(listener);
    if (this.#following.length === 0) this.#following = this.#urls.map((u) => this.#follow(u));
    return () => this.#listeners.delete(listener);
  }

  // Dataset operations of the public API, forwarded to the dataset's name server.

  /** Registers a dataset. */
  createDataset(input: CreateDatasetInput): Promise<unknown> {
    return this.#call(this.urlOf(input.name), "POST", "/v1/datasets", input);
  }

  /**
   * The datasets of every name server by name: all of them, or a page
   * (`after` a name, at most `limit`). Each name server answers its own
   * page after the name, a page at a time, and the pages merge: the first
   * `limit` of the union are among them.
   */
  async listDatasets(page: DatasetPage = {}): Promise<{ name: string }[]> {
    const lists = await Promise.all(
      this.#urls.map((u) => this.#listed<{ name: string }>(u, "/v1/datasets", "datasets", page)),
    );
    const all = lists.flat().sort((a, b) => (a.name < b.name ? -1 : 1));
    return page.limit === undefined ? all : all.slice(0, page.limit);
  }

  /** One dataset in full. */
  describeDataset(name: string): Promise<DatasetDescription> {
    return this.#call(this.urlOf(name), "GET", `/v1/datasets/${enc(name)}`);
  }

  /**
   * Deletes a dataset. Its bytes are freed by the nodes that hold them when
   * the release notices reach them, so no copy is returned here.
   */
  async deleteDataset(
    name: string,
    options: { readonly force?: boolean } = {},
  ): Promise<FragmentRecord[]> {
    const force = options.force === true ? "?force=true" : "";
    await this.#call(this.urlOf(name), "DELETE", `/v1/datasets/${enc(name)}${force}`);
    return [];
  }

  /**
   * Versions of a dataset, oldest first: all of them (asked a page at a
   * time), or a page (`after` a version, at most `limit`).
   */
  listVersions(name: string, page: VersionPage = {}): Promise<{ version: number }[]> {
    return this.#listed(this.urlOf(name), `/v1/datasets/${enc(name)}/versions`, "versions", page);
  }

  /**
   * A list one name server answers a page at a time: from `after`, `limit`
   * items (all when absent), asking at most `MAX_LIST_PAGE` a request.
   */
  async #listed<T>(
    url: string,
    path: string,
    field: "datasets" | "versions",
    page: { readonly after?: string | number; readonly limit?: number },
  ): Promise<T[]> {
    const out: T[] = [];
    let after = page.after;
    for (;;) {
      const want = Math.min(MAX_LIST_PAGE, (page.limit ?? Infinity) - out.length);
      if (want <= 0) return out;
      const q = new URLSearchParams({ limit: String(want) });
      if (after !== undefined) q.set("after", String(after));
      const got = await this.#call<Record<string, unknown>>(url, "GET", `${path}?${q}`);
      out.push(...got[field] as T[]);
      if (got.next === undefined) return out;
      after = got.next as string | number;
    }
  }

  /**
   * Runs a batch: consecutive operations on datasets of one name server go
   * to it in one request, in order.
   */
  async batch(ops: readonly unknown[]): Promise<unknown[]> {
    const out: unknown[] = [];
    let i = 0;
    while (i < ops.length) {
      const url = this.#batchUrl(ops[i]);
      let j = i + 1;
      while (j < ops.length && this.#batchUrl(ops[j]) === url) j++;
      const r = await this.#call<{ results: unknown[] }>(url, "POST", "/v1/batch", {
        ops: ops.slice(i, j),
      });
      out.push(...r.results);
      i = j;
    }
    return out;
  }

  /** The answers of every name server that answers; the first failure when none does. */
  async #fromAny<T>(ask: (url: string) => Promise<T>): Promise<T[]> {
    const all = await Promise.allSettled(this.#urls.map(ask));
    const answers = all.flatMap((r) => r.status === "fulfilled" ? [r.value] : []);
    if (answers.length === 0) throw (all[0] as PromiseRejectedResult).reason;
    return answers;
  }

  /** Stops following release notices. */
  close(): Promise<void> {
    this.#stop.abort();
    return Promise.resolve();
  }

  /** Closes the client (`await using`). */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** A recent answer for `key`, or `load()`'s (failures are not kept). */
  #cached<T>(key: string, load: () => Promise<T>): Promise<T> {
    const now = Date.now();
    const hit = this.#cache.get(key);
    if (hit !== undefined && now - hit.at < CACHE_MS) return hit.value as Promise<T>;
    if (this.#cache.size >= CACHE_SIZE) this.#cache.clear();
    const value = load();
    this.#cache.set(key, { at: now, value });
    value.catch(() => this.#cache.delete(key));
    return value;
  }

  #batchUrl(op: unknown): string {
    const o = op as {
      dataset?: unknown;
      record?: { dataset?: unknown };
      query?: { dataset?: unknown };
    };
    const name = o?.dataset ?? o?.record?.dataset ?? o?.query?.dataset;
    return typeof name === "string" ? this.urlOf(name) : this.#urls[0]!;
  }

  /** Long-polls one name server for this node's release notices until closed. */
  async #follow(url: string): Promise<void> {
    let epoch = "";
    let after = 0;
    while (!this.#stop.signal.aborted) {
      // Notices read from the start of a log (this process's first poll, or
      // a restarted name server's) may have been handled and not acknowledged.
      const replayed = after === 0;
      try {
        // A POST: it acknowledges the notices up to `after` (a GET only reads).
        const batch = await this.#call<ReleaseBatch>(url, "POST", "/v1/cluster/releases", {
          node: this.#node,
          after,
          wait: this.#pollMs,
        }, this.#pollMs);
        if (batch.epoch !== epoch) {
          // A restarted name server starts a new log: read it from its start.
          const fresh = epoch !== "";
          epoch = batch.epoch;
          after = 0;
          if (fresh) continue;
        }
        after = batch.seq;
        if (batch.copies.length > 0) {
          for (const l of this.#listeners) {
            try {
              l(batch.copies, replayed);
            } catch {
              // One listener's failure must not stop the others.
            }
          }
        }
      } catch {
        if (this.#stop.signal.aborted) return;
        // The name server is away: try again shortly.
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  /**
   * One call to the name server at `base`, failed past `callTimeoutMs`
   * plus `waitMs`, the longest the name server may rightly hold it.
   */
  #call<T>(base: string, method: string, path: string, body?: unknown, waitMs = 0): Promise<T> {
    return controlCall<T>(base, method, path, body, {
      ...(this.#token === undefined ? {} : { token: this.#token }),
      signal: this.#stop.signal,
      peer: `Name server ${base}`,
      timeoutMs: this.#callTimeoutMs + waitMs,
    });
  }
}

/** Most publish requests of one dataset under way, those that may close a version under way included. */
const MAX_PUBLISH_REQUESTS = 16;

/** Most publishes in one request. */
const PUBLISH_BATCH = 256;

/**
 * Most publishes of one dataset waiting for a request (`BusyError` past
 * it): a name server that answers slowly, or commits held by a `block`
 * subscriber, must not let them pile up without bound.
 */
export const MAX_WAITING_PUBLISHES = 65_536;

/**
 * Most base64 text of inline bytes in one request (a publish of more goes
 * alone): well within the name server's default body limit of 1 MiB.
 */
const PUBLISH_INLINE_CHARS = 256 * 1024;

/** The publishes of one dataset. */
interface PublishQueue {
  /** The dataset. */
  readonly dataset: string;
  /** Requests under way. */
  inFlight: number;
  /** Publishes waiting for a request, in call order. */
  readonly waiting: {
    /** The record, with its copy's bytes as base64 `inline` text when it carries them. */
    readonly body: FragmentRecord | (FragmentRecord & { readonly inline: string });
    /** The length of that text (0 without). */
    readonly inlineChars: number;
    readonly resolve: (r: { readonly committed: boolean }) => void;
    readonly reject: (e: unknown) => void;
  }[];
  /** The number of the last request not answered yet. */
  unanswered: number | undefined;
  /** Versions with records in requests under way, and how many each. */
  readonly underWay: Map<number, number>;
}

function enc(s: string): string {
  return encodeURIComponent(s);
}

function query(q: Readonly<Record<string, number | string>>): string {
  const entries = Object.entries(q);
  if (entries.length === 0) return "";
  return "?" + entries.map(([k, v]) => `${enc(k)}=${enc(String(v))}`).join("&");
}
