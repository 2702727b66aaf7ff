/**
 * A subscription to a dataset's commits at a name server in another
 * process: one long-lived HTTP response of NDJSON lines, read as they come
 * into a queue of the subscription's limit and policy; the name server
 * holds its own queue of the same bounds for what the connection has not
 * taken yet.
 *
 * @module
 */

import { ClosedError, errorFromBody, UnavailableError } from "../errors.ts";
import { NoticeQueue } from "../registry/notice_queue.ts";
import { controlCall } from "./control_call.ts";
import type {
  CommitNotice,
  CommitSubscription,
  SourceRecord,
  SubscribeQuery,
} from "../name_service/name_service.ts";

/**
 * Subscribes at the name server `base` (`GET
 * /v1/cluster/datasets/:name/fragments/:fragment/subscribe`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { remoteSubscription } from "./remote_subscription.ts";
 * const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () =>
 *   new Response('{}\n{"version":3,"layout":{"byteLength":0,"slots":[]},"sources":[],"dropped":0}\n'));
 * const sub = remoteSubscription(`http://127.0.0.1:${server.addr.port}`, undefined, {
 *   dataset: "t", fragment: "dataset", bindings: {},
 * });
 * assert.equal((await sub.next(5000))?.version, 3);
 * sub.close();
 * await server.shutdown();
 * ```
 */
export function remoteSubscription(
  base: string,
  token: string | undefined,
  query: SubscribeQuery,
  options: { readonly silenceMs?: number } = {},
): CommitSubscription {
  // The name server sends a line at least every HEARTBEAT_MS (10 s): three
  // of them missed, it is stopped or cut off.
  const silenceMs = options.silenceMs ?? 30_000;
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query.bindings)) params.set(k, String(v));
  if (query.from !== undefined) params.set("from", String(query.from));
  if (query.limit !== undefined) params.set("limit", String(query.limit));
  if (query.policy !== undefined) params.set("policy", query.policy);
  if (query.group !== undefined) params.set("group", query.group);
  if (query.assign !== undefined) params.set("assign", query.assign);
  if (query.blockMs !== undefined) params.set("blockMs", String(query.blockMs));
  // A block stream reports what its consumer took: the name server writes no further ahead.
  const id = query.policy === "block" ? crypto.randomUUID() : undefined;
  if (id !== undefined) params.set("id", id);
  const reportEvery = Math.max(1, Math.floor((query.limit ?? 16) / 2));
  let untold = 0;
  // A report lost would stall the stream for good (the name server waits
  // for credit, the consumer for versions): a failed one is sent again,
  // and after three failures the subscription fails saying why.
  const report = async () => {
    const count = untold;
    untold = 0;
    for (let attempt = 1;; attempt++) {
      try {
        await controlCall(base, "POST", `/v1/cluster/subscriptions/${id}/taken`, { count }, {
          ...(token === undefined ? {} : { token }),
          signal: abort.signal,
          peer,
          timeoutMs: REPORT_TIMEOUT_MS,
        });
        return;
      } catch (e) {
        if (abort.signal.aborted) return;
        if (attempt === 3) {
          queue.fail(
            new UnavailableError(
              `${peer} did not take this subscription's report of ${count} versions taken (${
                (e as Error).message
              }): subscribe again from the next version`,
            ),
          );
          return;
        }
        await new Promise((r) => setTimeout(r, 200 * attempt));
      }
    }
  };
  const path = `/v1/cluster/datasets/${encodeURIComponent(query.dataset)}/fragments/${
    encodeURIComponent(query.fragment)
  }/subscribe?${params}`;
  const peer = `Name server ${base}`;
  const abort = new AbortController();
  // Read as the lines come, into a queue of the same limit and policy as
  // the name server's: the consumer's process holds at most `limit` too.
  const queue = new NoticeQueue<CommitNotice>(query.dataset, query);
  // The name server's first line (a heartbeat it sends at once) says it holds the subscription.
  let opened!: () => void;
  let refused!: (e: unknown) => void;
  const ready = new Promise<void>((resolve, reject) => {
    opened = resolve;
    refused = reject;
  });
  ready.catch(() => {}); // read by those who wait for it
  // The stream's lines, the first one included, each within `silenceMs`.
  let heard = performance.now();
  let silent = false;
  const silence = () =>
    new UnavailableError(
      `${peer} sent nothing on the subscription to '${query.dataset}' for ${silenceMs} ms (it sends a heartbeat every 10 s): it may be stopped or cut off; subscribe again once it answers`,
      { fields: { dataset: query.dataset, silenceMs } },
    );
  const watch = setInterval(() => {
    if (silent || performance.now() - heard <= silenceMs) return;
    silent = true;
    // Failed at once, whether or not the read under way ends with the abort.
    const failure = silence();
    refused(failure);
    queue.fail(failure);
    abort.abort();
  }, Math.max(1, silenceMs / 4));
  Deno.unrefTimer(watch);
  (async () => {
    const read = await openLines(base + path, token, abort.signal, peer);
    for (let line = await read(); line !== undefined; line = await read()) {
      heard = performance.now();
      opened();
      const msg = JSON.parse(line) as Partial<CommitNotice> & { error?: unknown };
      if (msg.error !== undefined) {
        throw errorFromBody(msg.error) ?? new UnavailableError(`${peer} failed: ${line}`);
      }
      // Lines without a version are heartbeats.
      if (msg.version !== undefined) queue.push(inlineBytes(msg as CommitNotice));
    }
    throw new UnavailableError(`${peer} ended the subscription to '${query.dataset}'`);
  })().catch((e) => {
    const failure = silent ? silence() : abort.signal.aborted ? new ClosedError("subscription") : e;
    refused(failure);
    queue.fail(failure);
  }).finally(() => clearInterval(watch));
  return {
    async next(timeoutMs) {
      const taken = await queue.next(timeoutMs);
      if (taken === undefined) return undefined;
      if (id !== undefined && ++untold >= reportEvery) void report();
      return taken.dropped === 0
        ? taken.value
        : { ...taken.value, dropped: taken.value.dropped + taken.dropped };
    },
    close() {
      abort.abort();
      queue.close();
    },
    ready,
  };
}

/**
 * A notice as read from its line, its sources' `inline` base64 text made
 * bytes again; text that does not decode is dropped (the copy is fetched).
 */
function inlineBytes(notice: CommitNotice): CommitNotice {
  const sources = notice.sources as readonly (SourceRecord & { inline?: unknown })[] | undefined;
  if (sources === undefined || !sources.some((s) => s.inline !== undefined)) return notice;
  return {
    ...notice,
    sources: sources.map(({ inline, ...s }) => {
      if (typeof inline !== "string") return s;
      try {
        return { ...s, inline: Uint8Array.fromBase64(inline) };
      } catch {
        return s;
      }
    }),
  };
}

/** Opens the stream; resolves with a function reading its next line (undefined at its end). */
async function openLines(
  url: string,
  token: string | undefined,
  signal: AbortSignal,
  peer: string,
): Promise<() => Promise<string | undefined>> {
  let res: Response;
  try {
    res = await fetch(url, {
      signal,
      ...(token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } }),
    });
  } catch (e) {
    throw new UnavailableError(`${peer} does not answer: ${(e as Error).message}`);
  }
  if (!res.ok || res.body === null) {
    const text = await res.text();
    let body: unknown;
    try {
      body = (JSON.parse(text) as { error?: unknown }).error;
    } catch {
      body = undefined;
    }
    throw errorFromBody(body) ?? new UnavailableError(`${peer} answered ${res.status}: ${text}`);
  }
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  return async () => {
    for (;;) {
      const nl = buffered.indexOf("\n");
      if (nl >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        return line;
      }
      const { value, done } = await reader.read();
      if (done) return undefined;
      buffered += value;
    }
  };
}

/** How long one report of versions taken may go unanswered before it is sent again, ms. */
const REPORT_TIMEOUT_MS = 60_000;
