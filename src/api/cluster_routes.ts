/**
 * Routes a name server offers its runtimes (`/v1/cluster/...`): the name
 * service operations, node leases and release notices. Runtimes reach them
 * through `RemoteNameService` (src/cluster/name_client.ts); they carry no
 * payload bytes.
 *
 * @module
 */

import type { Hono } from "hono";
import { errorBody, InvalidRequestError } from "../errors.ts";
import {
  checkBindings,
  checkLabel,
  checkName,
  checkVersion,
  MAX_URL_LENGTH,
} from "../registry/validate.ts";
import { intField, objectBody, shown, versionParam } from "./fields.ts";
import type { NodeBook } from "../cluster/node_book.ts";
import { PublishOrder, type PublishTicket } from "../cluster/publish_order.ts";
import { type StreamCredit, StreamCredits } from "../cluster/stream_credits.ts";
import type { ReleaseLog } from "../cluster/release_log.ts";
import type { Registry } from "../registry/registry.ts";
import type { AttachQuery, NodeInput } from "../registry/records.ts";
import {
  type CommitNotice,
  type CommitSubscription,
  type CopyRef,
  type FragmentRecord,
  INLINE_MAX_BYTES,
  type NodeTier,
  type PublishOptions,
} from "../name_service/name_service.ts";
import { readControlBody, reply } from "./negotiate.ts";

/** What the cluster routes need. */
export interface ClusterRouteOptions {
  /** The name server's registry. */
  readonly registry: Registry;
  /** Release notices for runtimes in other processes. */
  readonly releases: ReleaseLog;
  /** Node leases. */
  readonly nodes: NodeBook;
  /** Largest control body. */
  readonly maxBodyBytes: number;
  /** Longest wait a runtime may ask for, in ms (default 60 000). */
  readonly maxWaitMs?: number;
}

/**
 * Mounts the `/v1/cluster` routes on `app`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Hono } from "hono";
 * import { mountClusterRoutes } from "./cluster_routes.ts";
 * import { NodeBook } from "../cluster/node_book.ts";
 * import { ReleaseLog } from "../cluster/release_log.ts";
 * import { openRegistry } from "../registry/registry.ts";
 * await using registry = await openRegistry({ path: ":memory:" });
 * const app = new Hono();
 * mountClusterRoutes(app, { registry, releases: new ReleaseLog(), nodes: new NodeBook(registry), maxBodyBytes: 1 << 20 });
 * const res = await app.request("/v1/cluster/nodes", {
 *   method: "POST",
 *   headers: { "content-type": "application/json" },
 *   body: JSON.stringify({ id: "a", url: "http://127.0.0.1:7071", wire: "127.0.0.1:7171", tiers: [], leaseMs: 5000 }),
 * });
 * assert.equal(res.status, 200);
 * assert.equal((await res.json()).wire, "127.0.0.1:7171");
 * ```
 */
export function mountClusterRoutes(app: Hono, o: ClusterRouteOptions): void {
  const maxWaitMs = o.maxWaitMs ?? 60_000;
  mountDatasetQueries(app, o);
  mountCopyRoutes(app, o);
  mountLookupRoutes(app, o, maxWaitMs);
  mountNodeRoutes(app, o);
  mountReleaseRoutes(app, o, maxWaitMs);
}

/** A dataset's settings, a version's sizes and a fragment's layout. */
function mountDatasetQueries(app: Hono, o: ClusterRouteOptions): void {
  app.get("/v1/cluster/datasets/:name/settings", async (c) => {
    return reply(c, await o.registry.datasetSettings(c.req.param("name")));
  });
  app.get("/v1/cluster/datasets/:name/versions/:version/sizes", async (c) => {
    const version = versionParam(c.req.param("version"), false) as number;
    return reply(c, { sizes: await o.registry.versionSizes(c.req.param("name"), version) });
  });
  app.get("/v1/cluster/datasets/:name/fragments/:fragment/layout", async (c) => {
    const bindings = integers(new URL(c.req.url).searchParams);
    checkBindings("layout query", bindings);
    const fragment = c.req.param("fragment");
    checkLabel("fragment name", fragment);
    return reply(c, await o.registry.fragmentLayout(c.req.param("name"), fragment, bindings));
  });
}

/** Registering a copy, and the changes of its record: relocations, replicas, drops, held checks. */
function mountCopyRoutes(app: Hono, o: ClusterRouteOptions): void {
  // Publishes a runtime made in order, registered in that order (publish_order.ts).
  const order = new PublishOrder();
  app.post("/v1/cluster/publish", async (c) => {
    const ticket = ticketOf(new URL(c.req.url).searchParams);
    let published: Promise<{ committed: boolean }>;
    try {
      const { record, options } = publishOf(await readControlBody(c.req.raw, o.maxBodyBytes));
      if (ticket !== undefined) await order.turn(ticket);
      published = o.registry.publishFragment(record, options);
    } finally {
      if (ticket !== undefined) order.handed(ticket);
    }
    const { committed } = await published;
    return reply(c, { committed });
  });
  // A runtime's publishes made while its earlier ones were under way, in
  // one request: registered in the order of the list, each answered on its
  // own (a bad record is refused alone).
  app.post("/v1/cluster/publishes", async (c) => {
    const ticket = ticketOf(new URL(c.req.url).searchParams);
    const published: Promise<{ committed: boolean }>[] = [];
    try {
      const shape = "{records: [publish, ...]}";
      const body = objectBody(
        await readControlBody(c.req.raw, o.maxBodyBytes),
        "publish batch",
        shape,
      );
      const records = body.records;
      if (!Array.isArray(records) || records.length === 0 || records.length > MAX_PUBLISHES) {
        throw new InvalidRequestError(
          `Invalid publish batch: expected ${shape} with 1 to ${MAX_PUBLISHES} records`,
        );
      }
      const checked = records.map((r) => {
        try {
          return publishOf(r);
        } catch (e) {
          return e as Error;
        }
      });
      if (ticket !== undefined) await order.turn(ticket);
      for (const r of checked) {
        published.push(
          r instanceof Error ? Promise.reject(r) : o.registry.publishFragment(r.record, r.options),
        );
      }
    } finally {
      if (ticket !== undefined) order.handed(ticket);
    }
    const settled = await Promise.allSettled(published);
    return reply(c, {
      results: settled.map((r) =>
        r.status === "fulfilled" ? { committed: r.value.committed } : { error: errorBody(r.reason) }
      ),
    });
  });
  app.post("/v1/cluster/relocate", async (c) => {
    const body = await copyBody(c.req.raw, o.maxBodyBytes, "relocation", true);
    return reply(c, { relocated: await o.registry.relocateFragment(body.copy, body.tier!) });
  });
  app.post("/v1/cluster/replicas", async (c) => {
    const body = await copyBody(c.req.raw, o.maxBodyBytes, "replica", true);
    return reply(c, { added: await o.registry.addReplica(body.copy, body.tier!) });
  });
  app.post("/v1/cluster/drop", async (c) => {
    const body = await copyBody(c.req.raw, o.maxBodyBytes, "drop", false);
    return reply(c, { dropped: await o.registry.dropCopy(body.copy) });
  });
  app.post("/v1/cluster/held", async (c) => {
    const shape = "{copies: [{dataset, version, fragment, bindings, node}]}";
    const body = objectBody(await readControlBody(c.req.raw, o.maxBodyBytes), "held query", shape);
    if (!Array.isArray(body.copies)) {
      throw new InvalidRequestError(`Invalid held query: expected ${shape}`);
    }
    const copies = body.copies.map((x) => copyRefOf(x, "held query"));
    return reply(c, { held: o.registry.heldCopies(copies) });
  });
}

/** Lookups of copies, waits for a version, and commits. */
function mountLookupRoutes(app: Hono, o: ClusterRouteOptions, maxWaitMs: number): void {
  app.post("/v1/cluster/lookup", async (c) => {
    const { query, waitMs } = lookupOf(await readControlBody(c.req.raw, o.maxBodyBytes));
    // With `waitMs`, a version not committed yet is waited for in this request.
    const found = waitMs === undefined
      ? await o.registry.attachFragments(query)
      : await o.registry.attachFragments(query, { waitMs: Math.min(waitMs, maxWaitMs) });
    return reply(c, found);
  });
  app.get("/v1/cluster/datasets/:name/wait", async (c) => {
    const q = integers(new URL(c.req.url).searchParams);
    const timeoutMs = Math.min(q.timeoutMs ?? maxWaitMs, maxWaitMs);
    if (timeoutMs < 0) {
      throw new InvalidRequestError(`Query parameter 'timeoutMs' must be >= 0, found ${timeoutMs}`);
    }
    const version = await o.registry.waitForVersion(c.req.param("name"), q.atLeast ?? 1, {
      timeoutMs,
    });
    return reply(c, { version });
  });
  app.post("/v1/cluster/datasets/:name/versions/:version/commit", async (c) => {
    const version = versionParam(c.req.param("version"), false) as number;
    return reply(c, await o.registry.commitVersion(c.req.param("name"), version));
  });
  // Streams with policy block write only as far as their runtime took (stream_credits.ts).
  const credits = new StreamCredits();
  app.post("/v1/cluster/subscriptions/:id/taken", async (c) => {
    const b = objectBody(
      await readControlBody(c.req.raw, o.maxBodyBytes),
      "taken report",
      "{count}",
    );
    credits.took(c.req.param("id"), intField(b, "count", "taken report", { min: 1 })!);
    return reply(c, { ok: true });
  });
  app.get("/v1/cluster/datasets/:name/fragments/:fragment/subscribe", (c) => {
    const { from, limit, policy, group, assign, blockMs, id, bindings } = subscribeParams(
      new URL(c.req.url).searchParams,
    );
    const sub = o.registry.subscribe({
      dataset: c.req.param("name"),
      fragment: c.req.param("fragment"),
      bindings,
      ...(from === undefined ? {} : { from }),
      ...(limit === undefined ? {} : { limit }),
      ...(policy === undefined ? {} : { policy }),
      ...(group === undefined ? {} : { group }),
      ...(assign === undefined ? {} : { assign }),
      ...(blockMs === undefined ? {} : { blockMs }),
    });
    let stream: ReadableStream<Uint8Array>;
    if (policy === "block" && id !== undefined) {
      let credit;
      try {
        credit = credits.open(id, limit ?? 16);
      } catch (e) {
        sub.close();
        throw e;
      }
      stream = noticeStream(sub, credit, () => credits.close(id));
    } else stream = noticeStream(sub);
    return new Response(stream, {
      headers: { "content-type": "application/x-ndjson", "cache-control": "no-store" },
    });
  });
}

/** Most records of one `/v1/cluster/publishes` request. */
const MAX_PUBLISHES = 1024;

/** How long a subscription stream stays silent before it sends a heartbeat line. */
const HEARTBEAT_MS = 10_000;

/**
 * A subscription as NDJSON lines: one per committed version (a lookup's
 * answer and `dropped`), `{}` as a heartbeat when nothing was committed for
 * a while, and a last `{"error": ...}` line when the subscription fails.
 * It is read only as fast as the runtime reads it: a consumer that falls
 * behind fills its bounded queue, whose policy decides (docs/nodes.md).
 */
function noticeStream(
  sub: CommitSubscription,
  credit?: StreamCredit,
  ended: () => void = () => {},
): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  const stop = new AbortController();
  // A heartbeat first, at once: the subscriber learns the subscription is held (`ready`).
  let opened = false;
  return new ReadableStream({
    async pull(controller) {
      if (!opened) {
        opened = true;
        controller.enqueue(encoder.encode("{}\n"));
        return;
      }
      try {
        // A block stream writes only what its runtime has room for, and a
        // heartbeat while it waits, as any stream does when nothing comes.
        if (credit !== undefined && !(await credit.ready(stop.signal, HEARTBEAT_MS))) {
          controller.enqueue(encoder.encode("{}\n"));
          return;
        }
        const notice = await sub.next(HEARTBEAT_MS);
        if (notice !== undefined) credit?.sent();
        controller.enqueue(encoder.encode(`${JSON.stringify(noticeJson(notice))}\n`));
      } catch (e) {
        controller.enqueue(encoder.encode(`${JSON.stringify({ error: errorBody(e) })}\n`));
        sub.close();
        ended();
        controller.close();
      }
    },
    cancel() {
      stop.abort();
      sub.close();
      ended();
    },
  }, { highWaterMark: 0 });
}

/**
 * A notice as its NDJSON line holds it: the inline bytes of its sources as
 * base64 text (`{}` for a heartbeat). Only a notice carrying some is copied.
 */
function noticeJson(notice: CommitNotice | undefined): unknown {
  if (notice === undefined) return {};
  if (!notice.sources.some((s) => s.inline !== undefined)) return notice;
  return {
    ...notice,
    sources: notice.sources.map((s) =>
      s.inline === undefined ? s : { ...s, inline: s.inline.toBase64() }
    ),
  };
}

/**
 * A publish's place in its runtime's order, from `session`, `seq` and
 * `after` in the query; undefined without `session`.
 */
function ticketOf(params: URLSearchParams): PublishTicket | undefined {
  const session = params.get("session");
  if (session === null) return undefined;
  if (!/^[A-Za-z0-9-]{1,64}$/.test(session)) {
    throw new InvalidRequestError(
      `Invalid publish session ${shown(session)}: expected 1 to 64 letters, digits or dashes`,
    );
  }
  const number = (name: string): number | undefined => {
    const text = params.get(name);
    if (text === null) return undefined;
    const n = Number(text);
    if (!/^[0-9]{1,16}$/.test(text) || !Number.isSafeInteger(n)) {
      throw new InvalidRequestError(
        `Invalid publish '${name}' ${shown(text)}: expected a non-negative integer`,
      );
    }
    return n;
  };
  const seq = number("seq");
  if (seq === undefined) {
    throw new InvalidRequestError("A publish with a session needs its 'seq' number");
  }
  const after = number("after");
  return after === undefined ? { session, seq } : { session, seq, after };
}

/**
 * The query of a subscription: `from`, `limit`, `policy`, `group`,
 * `assign` and integer bindings.
 */
function subscribeParams(params: URLSearchParams): SubscribeParams {
  const out: SubscribeParams = { bindings: {} };
  for (const [k, v] of params) {
    if (k === "policy" || k === "group" || k === "assign" || k === "id") {
      if (k === "id" && !/^[A-Za-z0-9-]{1,64}$/.test(v)) {
        throw new InvalidRequestError(
          `Invalid subscription stream id ${shown(v)}: expected 1 to 64 letters, digits or dashes`,
        );
      }
      out[k] = v;
      continue;
    }
    const n = Number(v);
    if (v === "" || !Number.isSafeInteger(n)) {
      throw new InvalidRequestError(
        `Query parameter '${k.slice(0, 40)}' must be an integer, found '${v.slice(0, 40)}'`,
      );
    }
    if (k === "from") out.from = n;
    else if (k === "limit") out.limit = n;
    else if (k === "blockMs") out.blockMs = n;
    else out.bindings[k] = n;
  }
  return out;
}

/** A subscription's query, as its parameters give it. */
interface SubscribeParams {
  from?: number;
  limit?: number;
  policy?: string;
  group?: string;
  assign?: string;
  blockMs?: number;
  /** A `block` stream's id, which its runtime's taken reports name. */
  id?: string;
  bindings: Record<string, number>;
}

/** Node leases: registration, renewal and the live list. */
function mountNodeRoutes(app: Hono, o: ClusterRouteOptions): void {
  app.post("/v1/cluster/nodes", async (c) => {
    const b = objectBody(
      await readControlBody(c.req.raw, o.maxBodyBytes),
      "node registration",
      "{id, url, wire?, tiers?, leaseMs?}",
    );
    return reply(c, await o.nodes.register(nodeOf(b), leaseOf(b, "node registration")));
  });
  app.post("/v1/cluster/nodes/:id/renew", async (c) => {
    const b = objectBody(
      await readControlBody(c.req.raw, o.maxBodyBytes),
      "lease renewal",
      "{leaseMs?, tiers?}",
    );
    if (b.tiers !== undefined && !Array.isArray(b.tiers)) {
      throw new InvalidRequestError(`Invalid lease renewal: expected a list of tiers`);
    }
    const tiers = b.tiers as NodeTier[] | undefined;
    return reply(c, await o.nodes.renew(c.req.param("id"), leaseOf(b, "lease renewal"), tiers));
  });
  app.get("/v1/cluster/nodes", async (c) => reply(c, { nodes: await o.registry.listNodes() }));
}

/** Release notices: read (a GET changes nothing) or acknowledged and long-polled. */
function mountReleaseRoutes(app: Hono, o: ClusterRouteOptions, maxWaitMs: number): void {
  app.get("/v1/cluster/releases", async (c) => {
    const params = new URL(c.req.url).searchParams;
    const node = params.get("node");
    if (node === null || node === "") {
      throw new InvalidRequestError("Missing query parameter 'node': whose releases to read");
    }
    checkName("node", node);
    params.delete("node");
    const q = integers(params);
    const after = q.after ?? 0;
    if (after < 0) {
      throw new InvalidRequestError(`Query parameter 'after' must be >= 0, found ${after}`);
    }
    const waitMs = Math.max(0, Math.min(q.wait ?? 0, maxWaitMs));
    return reply(c, await o.releases.read(node, after, waitMs, c.req.raw.signal));
  });
  // Acknowledges the notices up to `after`, then answers the next ones (a long poll).
  app.post("/v1/cluster/releases", async (c) => {
    const b = objectBody(
      await readControlBody(c.req.raw, o.maxBodyBytes),
      "release poll",
      "{node, after, wait?}",
    );
    checkName("node", b.node);
    const after = intField(b, "after", "release poll", { min: 0 })!;
    const wait = intField(b, "wait", "release poll", { min: 0, optional: true }) ?? 0;
    return reply(
      c,
      await o.releases.poll(b.node, after, Math.min(wait, maxWaitMs), c.req.raw.signal),
    );
  });
}

/** A lookup body: `{dataset, version, fragment, bindings?, waitMs?}`, checked. */
function lookupOf(body: unknown): { query: AttachQuery; waitMs: number | undefined } {
  const shape = "{dataset, version, fragment, bindings?, waitMs?}";
  const q = objectBody(body, "lookup", shape);
  checkName("dataset", q.dataset);
  let version: number | "latest" = "latest";
  if (q.version !== "latest") {
    checkVersion(q.version);
    version = q.version;
  }
  checkLabel("fragment name", q.fragment);
  const bindings = q.bindings ?? {};
  checkBindings("lookup", bindings);
  const waitMs = intField(q, "waitMs", "lookup", { min: 0, optional: true });
  return { query: { dataset: q.dataset, version, fragment: q.fragment, bindings }, waitMs };
}

/** A node registration body's node, checked. */
function nodeOf(b: Record<string, unknown>): NodeInput {
  checkName("node", b.id);
  checkLabel(`url of node '${b.id}'`, b.url, MAX_URL_LENGTH);
  if (b.wire !== undefined) checkLabel(`wire of node '${b.id}'`, b.wire, MAX_URL_LENGTH);
  const tiers = b.tiers ?? [];
  if (!Array.isArray(tiers)) {
    throw new InvalidRequestError(`Invalid node '${b.id}': expected a list of tiers`);
  }
  return {
    id: b.id,
    url: b.url,
    tiers: tiers as NodeTier[],
    ...(b.wire === undefined ? {} : { wire: b.wire }),
  };
}

/** The longest lease a node may ask for: a day. */
const MAX_LEASE_MS = 86_400_000;

function leaseOf(b: Record<string, unknown>, what: string): number | undefined {
  const leaseMs = intField(b, "leaseMs", what, { min: 1, optional: true });
  if (leaseMs !== undefined && leaseMs > MAX_LEASE_MS) {
    throw new InvalidRequestError(
      `Invalid ${what}: 'leaseMs' must be at most ${MAX_LEASE_MS}, found ${leaseMs}`,
    );
  }
  return leaseMs;
}

/** A copy named in a body: `{dataset, version, fragment, bindings, node}`. */
function copyRefOf(v: unknown, what: string): CopyRef {
  const o = objectBody(v, what, "a copy {dataset, version, fragment, bindings, node}");
  const bindings = checkCopyRef(o, what);
  return {
    dataset: o.dataset as string,
    version: o.version as number,
    fragment: o.fragment as string,
    bindings,
    node: o.node as string,
  };
}

/** Checks the fields of `o` naming a copy; answers its bindings (`{}` when absent). */
function checkCopyRef(o: Record<string, unknown>, what: string): Readonly<Record<string, number>> {
  checkName("dataset", o.dataset);
  checkVersion(o.version);
  checkLabel("fragment name", o.fragment);
  const bindings = o.bindings ?? {};
  checkBindings(what, bindings);
  checkName("node", o.node);
  return bindings;
}

/**
 * A copy's full record, as a runtime registers it: the parsed body itself
 * once checked, its bindings `{}` when absent (a copy of each record per
 * publish was an object more for the collector, 4 rank processes' commits).
 */
function recordOf(body: unknown): FragmentRecord {
  const o = objectBody(
    body,
    "publish",
    "a copy's record {dataset, version, fragment, bindings, node, tier, byteLength, checksum}",
  );
  o.bindings = checkCopyRef(o, "publish");
  checkLabel("tier name", o.tier);
  intField(o, "byteLength", "publish", { min: 0 });
  if (typeof o.checksum !== "number" || !Number.isSafeInteger(o.checksum)) {
    throw new InvalidRequestError(
      `Invalid publish: 'checksum' must be an integer, found ${shown(o.checksum)}`,
    );
  }
  return o as unknown as FragmentRecord;
}

/**
 * A publish body: the copy's record, and the bytes of a small copy as
 * base64 text in `inline` (at most `INLINE_MAX_BYTES`, exactly the
 * record's `byteLength`), or `InvalidRequestError`.
 */
function publishOf(body: unknown): { record: FragmentRecord; options: PublishOptions } {
  const checked = recordOf(body) as FragmentRecord & { inline?: unknown };
  if (checked.inline === undefined) return { record: checked, options: {} };
  const { inline, ...rest } = checked;
  const record = rest as FragmentRecord;
  const fail = (why: string) =>
    new InvalidRequestError(
      `Invalid publish: 'inline' must be the copy's ${record.byteLength} bytes (at most ${INLINE_MAX_BYTES}) as base64, ${why}`,
    );
  if (typeof inline !== "string") throw fail(`found ${shown(inline)}`);
  if (inline.length > Math.ceil(INLINE_MAX_BYTES / 3) * 4) {
    throw fail(`found ${inline.length} characters`);
  }
  let bytes: Uint8Array;
  try {
    bytes = Uint8Array.fromBase64(inline);
  } catch (e) {
    throw fail(`found text that is not base64 (${(e as Error).message})`);
  }
  if (bytes.byteLength !== record.byteLength) throw fail(`found ${bytes.byteLength} bytes`);
  return { record, options: { inline: bytes } };
}

/** A control body naming a copy (`{copy, tier?}`), or `InvalidRequestError`. */
async function copyBody(
  req: Request,
  maxBodyBytes: number,
  what: string,
  withTier: boolean,
): Promise<{ copy: CopyRef; tier?: string }> {
  const shape = withTier ? "{copy, tier}" : "{copy}";
  const body = objectBody(await readControlBody(req, maxBodyBytes), what, shape);
  const copy = copyRefOf(body.copy, what);
  if (!withTier) return { copy };
  checkLabel("tier name", body.tier);
  return { copy, tier: body.tier };
}

function integers(params: URLSearchParams): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of params) {
    const n = Number(v);
    if (v === "" || !Number.isSafeInteger(n)) {
      throw new InvalidRequestError(
        `Query parameter '${k.slice(0, 40)}' must be an integer, found '${v.slice(0, 40)}'`,
      );
    }
    out[k] = n;
  }
  return out;
}
