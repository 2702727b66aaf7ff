/**
 * A dataset's versions as one streamed response: the runtime subscribes to
 * the fragment's commits, fetches the next versions while the client reads
 * the current one, and writes each as a frame. A client outside the
 * runtime's process (the Python client) so streams steps with no request
 * per step.
 *
 * @module
 */

import type { Hono } from "hono";
import { BusyError, errorBody, InvalidRequestError, NotFoundError } from "../errors.ts";
import type { Runtime } from "../runtime/runtime.ts";
import {
  AheadBudget,
  type StreamedVersion,
  type VersionStream,
} from "../runtime/version_stream.ts";
import { checkBindings, checkLabel } from "../registry/validate.ts";
import { integerQuery } from "./fields.ts";
import { QuietWatch } from "../http/quiet_watch.ts";

/** What the step routes need. */
export interface StepRouteOptions {
  /** The node runtime; a name server has none and answers 404. */
  readonly runtime?: Runtime;
  /** Longest `wait` a stream may ask for, in ms (default 3 600 000: an hour); 400 above. */
  readonly maxWaitMs?: number;
  /** Most step streams open at once (default 64); 503 `busy` past it. */
  readonly maxStreams?: number;
  /**
   * Most bytes one stream fetches ahead of its reader (default 256 MiB): it
   * then holds at most this plus one version, whatever `ahead` asks.
   */
  readonly maxBytesAhead?: number;
  /**
   * Most bytes all of the runtime's step streams fetch ahead together
   * (default 1 GiB): past it each fetches only the version its reader is
   * on, so together they hold at most this plus a version each.
   */
  readonly maxBytesAheadTotal?: number;
  /**
   * How often a waiting reader gets a heartbeat frame, ms (default
   * `STEP_HEARTBEAT_MS`): after this much silence, checked every half of it.
   */
  readonly heartbeatMs?: number;
}

/** The media type of a step stream. */
export const STEPS_TYPE = "application/x-strata-steps";

/** Longest wait for a next version, unless the query gives `wait`: a minute. */
const DEFAULT_WAIT_MS = 60_000;

/**
 * While a reader waits for the next version, a frame `{heartbeat: true}`
 * goes out after this many ms of silence (checked every half of it), so
 * that it can tell a quiet stream from a runtime gone without closing its
 * connection (`STEP_SILENCE_MS` of the clients).
 */
export const STEP_HEARTBEAT_MS = 10_000;

/**
 * Mounts `GET /v1/datasets/:name/fragments/:fragment/steps`. The query
 * takes the fragment's integer bindings and `from` (first version, default
 * 1), `limit` and `policy` (the subscription's queue at the name server:
 * 1 to 1024 versions, `drop-oldest`, `fail` or `block` with `blockMs`: the
 * producer's commits wait for this reader), `group` and `assign` (a
 * consumer group), `ahead` (versions fetched ahead, 1 to 16, default 2,
 * and at most `maxBytesAhead` of them)
 * and `wait` (longest wait for each next version, ms, default 60 000). A
 * bad query is a 4xx status; otherwise the answer starts at once (a
 * subscription waits for a dataset created later), then one frame per
 * version: a 4-byte big-endian header length, a JSON header
 * `{version, dropped, layout, bytes}`, and `bytes` raw bytes in the
 * layout; while the reader waits for a version, a frame `{heartbeat: true}`
 * (no bytes) after every `heartbeatMs` of silence (checked every half of
 * it). The stream ends with a frame `{error}` (no bytes): `timeout` when
 * no version came within `wait`, or what broke it. It is written only as
 * fast as the client reads; the name server's queue policy decides
 * what a slow client misses (docs/nodes.md#subscriptions).
 *
 * @example
 * ```ts ignore
 * import { Hono } from "hono";
 * import { mountStepRoutes } from "./step_routes.ts";
 * mountStepRoutes(new Hono(), { runtime });
 * ```
 */
export function mountStepRoutes(app: Hono, o: StepRouteOptions): void {
  const maxWait = o.maxWaitMs ?? 3_600_000;
  const maxStreams = o.maxStreams ?? 64;
  const aheadBytes = o.maxBytesAhead ?? 256 * 1024 * 1024;
  const aheadBudget = new AheadBudget(o.maxBytesAheadTotal ?? 1024 * 1024 * 1024);
  let open = 0;
  app.get("/v1/datasets/:name/fragments/:fragment/steps", (c) => {
    if (o.runtime === undefined) {
      throw new NotFoundError(
        "This is a name server: stream steps from a runtime (strata runtime or strata serve)",
      );
    }
    const dataset = c.req.param("name");
    const fragment = c.req.param("fragment");
    checkLabel("fragment name", fragment);
    const q = stepQuery(new URL(c.req.url).searchParams, maxWait);
    if (open >= maxStreams) {
      throw new BusyError(
        `Too many step streams (${maxStreams}) at this runtime: close some, or stream from another runtime`,
        { fields: { limit: maxStreams } },
      );
    }
    open++;
    let stream: VersionStream | undefined;
    let closed = false;
    // A heartbeat after each `heartbeatMs` a reader waits with nothing sent.
    let beat: QuietWatch | undefined;
    const close = () => {
      if (closed) return;
      closed = true;
      open--;
      beat?.close();
      stream?.close();
    };
    try {
      stream = o.runtime.subscribe(
        { dataset, fragment, ...q.subscription },
        { ahead: q.ahead, aheadBytes, aheadBudget },
      );
    } catch (e) {
      close();
      throw e;
    }
    const steps = stream;
    const heartbeatMs = o.heartbeatMs ?? STEP_HEARTBEAT_MS;
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        // Checked every half heartbeat: the reader hears something at least
        // every 1.5 heartbeats while it waits.
        beat = new QuietWatch(
          heartbeatMs,
          () => controller.enqueue(frameHeader({ heartbeat: true })),
          heartbeatMs / 2,
        );
      },
      async pull(controller) {
        beat!.waiting();
        try {
          // The version's wait runs from when it was asked, heartbeats or not.
          const step = await steps.next({ timeoutMs: q.waitMs });
          beat!.done();
          controller.enqueue(stepHeader(step));
          if (step.bytes.byteLength > 0) controller.enqueue(step.bytes);
        } catch (e) {
          beat!.done();
          controller.enqueue(frameHeader({ error: errorBody(e) }));
          controller.close();
          close();
        }
      },
      cancel: close,
    }, { highWaterMark: 0 });
    return new Response(body, {
      headers: { "content-type": STEPS_TYPE, "cache-control": "no-store" },
    });
  });
}

/** A step stream's query, checked. */
interface StepQuery {
  readonly subscription: {
    bindings: Record<string, number>;
    from?: number;
    limit?: number;
    policy?: string;
    blockMs?: number;
    group?: string;
    assign?: string;
  };
  readonly ahead: number;
  readonly waitMs: number;
}

function stepQuery(params: URLSearchParams, maxWaitMs: number): StepQuery {
  const subscription: StepQuery["subscription"] = { bindings: {} };
  let ahead = 2;
  let waitMs = Math.min(DEFAULT_WAIT_MS, maxWaitMs);
  for (const [k, v] of params) {
    if (k === "policy" || k === "group" || k === "assign") {
      subscription[k] = v;
      continue;
    }
    const n = integerQuery(k, v, maxWaitMs);
    if (k === "wait") waitMs = n;
    else if (k === "from") subscription.from = n;
    else if (k === "limit") subscription.limit = n;
    else if (k === "blockMs") subscription.blockMs = n;
    else if (k === "ahead") ahead = n;
    else subscription.bindings[k] = n;
  }
  if (ahead < 1 || ahead > 16) {
    throw new InvalidRequestError(
      `Query parameter 'ahead' must be from 1 to 16 versions, found ${ahead}`,
    );
  }
  checkBindings("query", subscription.bindings);
  return { subscription, ahead, waitMs };
}

const encoder = new TextEncoder();

/** A frame's length prefix and JSON header, in one buffer. */
function frameHeader(header: unknown): Uint8Array<ArrayBuffer> {
  const json = encoder.encode(JSON.stringify(header));
  const out = new Uint8Array(4 + json.byteLength);
  new DataView(out.buffer).setUint32(0, json.byteLength);
  out.set(json, 4);
  return out;
}

function stepHeader(step: StreamedVersion): Uint8Array<ArrayBuffer> {
  return frameHeader({
    version: step.version,
    dropped: step.dropped,
    layout: step.layout,
    bytes: step.bytes.byteLength,
  });
}
