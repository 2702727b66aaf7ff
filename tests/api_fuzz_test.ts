/**
 * Malformed requests on every route of a whole app (fixed seed): bodies,
 * content types, methods, query parameters, path names and tokens. No
 * request may answer 5xx, every error is one of the project's own codes with
 * the status of its code, and the seeded dataset and function come out
 * unchanged.
 */
import { mulberry32, ODD_VALUES } from "./_fixtures.ts";
import assert from "node:assert/strict";
import { decode, encode } from "@msgpack/msgpack";
import { type HttpErrorCode, STATUS_OF_CODE } from "../src/api/errors.ts";
import { KEEP, KEEP_BYTES, KEEP_DESCRIPTION, SUM, TOKEN, withApiApp } from "./api_harness.ts";
import { compileDescription, datasetLayout } from "../src/ddl/mod.ts";
import { toHdf5 } from "../src/hdf5/export.ts";

const SEED = 20260917;
const ROUNDS = 10_000;

const LONG = "n".repeat(3000);
const HUGE = "v".repeat(70 * 1024);

/** Path segments: valid names and every kind of bad one (never `keep` or `sum` themselves). */
const NAMES = [
  "fz",
  "fz2",
  "",
  "9bad",
  "a".repeat(129),
  LONG,
  "x%00y",
  "%E2%82%AC",
  "..",
  "a%2Fb",
  "latest",
  "keep%20",
  "KEEP",
  "keep.",
  "%",
  "%ZZ",
];
const VERSIONS = ["1", "2", "0", "-1", "latest", "1.5", "1e3", "99999999999999999999", "x", ""];
const FRAGMENTS = ["dataset", "half", "nope", LONG, "%00"];

/** Values a field is replaced with. */
const VALUES: unknown[] = [
  ...ODD_VALUES,
  "latest",
  LONG,
  HUGE,
  [],
  [1, "a", null],
  {},
  { a: 1 },
  { [LONG]: 1 },
  Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`k${i}`, i])),
  Array.from({ length: 2000 }, (_, i) => i),
  nest(90),
];

function nest(depth: number): unknown {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = i % 2 === 0 ? [v] : { a: v };
  return v;
}

const COPY = { dataset: "fz", version: 1, fragment: "dataset", bindings: {}, node: "n2" };
const RECORD = { ...COPY, tier: "memory", byteLength: 32, checksum: 0 };
/** A runtime's publish of RECORD, its bytes along as base64 (a small copy's). */
const PUBLISH = { ...RECORD, inline: new Uint8Array(32).toBase64() };

/** A route: method, path template and a valid body to mutate. */
interface Route {
  readonly method: string;
  readonly path: string;
  readonly body?: () => unknown;
  readonly text?: string;
  readonly bytes?: boolean;
  /** A valid binary body (an HDF5 file), sent whole, cut short or with bytes flipped. */
  readonly file?: () => Promise<Uint8Array>;
  readonly query?: readonly string[];
  /** The answer is a stream that stays open: its status is checked, then it is cancelled. */
  readonly stream?: boolean;
}

/** An HDF5 file of the seeded dataset, as `GET .../export` writes it. */
const hdf5File = async (): Promise<Uint8Array> =>
  await toHdf5({
    dataset: KEEP,
    version: 1,
    description: KEEP_DESCRIPTION,
    layout: datasetLayout(compileDescription(KEEP_DESCRIPTION)),
    bytes: KEEP_BYTES,
  });

const SERVICE_KEY = ["svc", "fz", "a"];

const ROUTES: readonly Route[] = [
  { method: "GET", path: "/v1/health" },
  { method: "POST", path: "/v1/describe", text: "dataset d { var x [4]float64 }", query: ["lo"] },
  {
    method: "POST",
    path: "/v1/describe",
    body: () => ({ name: "d", variables: [{ name: "x", type: "float64", dims: [4] }] }),
  },
  {
    method: "POST",
    path: "/v1/datasets",
    body: () => ({
      name: "fz",
      description: "dataset fz { var x [4]float64 }\nfragment half(lo) { var x = x[lo:lo + 2] }",
      retention: 2,
      durable: false,
      overwrite: false,
      sizes: {},
      consumers: ["n1"],
    }),
  },
  { method: "GET", path: "/v1/datasets" },
  { method: "GET", path: "/v1/datasets/{ds}" },
  { method: "DELETE", path: "/v1/datasets/{ds}" },
  { method: "GET", path: "/v1/datasets/{ds}/versions" },
  { method: "POST", path: "/v1/datasets/{ds}/versions/{v}/commit" },
  { method: "POST", path: "/v1/datasets/{ds}/versions/{v}/flush", query: ["tier"] },
  {
    method: "PUT",
    path: "/v1/datasets/{ds}/versions/{v}/fragments/{frag}",
    bytes: true,
    query: ["lo", "wait"],
  },
  {
    method: "GET",
    path: "/v1/datasets/{ds}/versions/{v}/fragments/{frag}",
    query: ["lo", "wait", "reshape"],
  },
  {
    method: "POST",
    path: "/v1/batch",
    body: () => ({
      ops: [
        { op: "create", name: "fz2", description: "dataset { var x [4]float64 }" },
        { op: "publish", ...RECORD, dataset: "fz2" },
        { op: "commit", dataset: "fz2", version: 1 },
        { op: "lookup", dataset: "fz2", version: "latest", fragment: "dataset", bindings: {} },
      ],
    }),
  },
  { method: "POST", path: "/v1/replicas", body: () => ({ copy: RECORD, tier: "memory" }) },
  { method: "GET", path: "/v1/nodes" },
  { method: "GET", path: "/v1/cluster/datasets/{ds}/settings" },
  { method: "GET", path: "/v1/cluster/datasets/{ds}/fragments/{frag}/layout", query: ["lo"] },
  { method: "POST", path: "/v1/cluster/publish", body: () => PUBLISH },
  {
    method: "POST",
    path: "/v1/cluster/publishes",
    body: () => ({ records: [PUBLISH, { ...RECORD, version: 2 }] }),
    query: ["session", "seq", "after"],
  },
  { method: "GET", path: "/v1/cluster/datasets/{ds}/versions/{v}/sizes" },
  {
    method: "GET",
    path: "/v1/cluster/datasets/{ds}/fragments/{frag}/subscribe",
    query: ["from", "limit", "policy", "group", "assign", "blockMs", "id", "lo"],
    stream: true,
  },
  { method: "POST", path: "/v1/cluster/subscriptions/{id}/taken", body: () => ({ count: 1 }) },
  {
    method: "POST",
    path: "/v1/cluster/services/kv/commit",
    body: () => ({ mutations: [{ type: "set", key: SERVICE_KEY, value: 1 }], checks: [] }),
  },
  { method: "POST", path: "/v1/cluster/services/kv/get", body: () => ({ keys: [SERVICE_KEY] }) },
  { method: "POST", path: "/v1/cluster/services/kv/list", body: () => ({ prefix: ["svc", "fz"] }) },
  { method: "POST", path: "/v1/cluster/relocate", body: () => ({ copy: COPY, tier: "file" }) },
  { method: "POST", path: "/v1/cluster/replicas", body: () => ({ copy: COPY, tier: "file" }) },
  { method: "POST", path: "/v1/cluster/drop", body: () => ({ copy: COPY }) },
  { method: "POST", path: "/v1/cluster/held", body: () => ({ copies: [COPY] }) },
  {
    method: "POST",
    path: "/v1/cluster/lookup",
    body: () => ({
      dataset: "fz",
      version: "latest",
      fragment: "dataset",
      bindings: {},
      waitMs: 5,
    }),
  },
  { method: "GET", path: "/v1/cluster/datasets/{ds}/wait", query: ["atLeast", "timeoutMs"] },
  { method: "POST", path: "/v1/cluster/datasets/{ds}/versions/{v}/commit" },
  {
    method: "POST",
    path: "/v1/cluster/nodes",
    body: () => ({
      id: "n2",
      url: "http://127.0.0.1:1",
      wire: "127.0.0.1:2",
      tiers: [{ name: "memory", kind: "memory", capacity: 10, used: 0 }],
      leaseMs: 1000,
    }),
  },
  { method: "POST", path: "/v1/cluster/nodes/{ds}/renew", body: () => ({ leaseMs: 1000 }) },
  { method: "GET", path: "/v1/cluster/nodes" },
  { method: "GET", path: "/v1/cluster/releases", query: ["node", "after", "wait"] },
  { method: "POST", path: "/v1/cluster/releases", body: () => ({ node: "n2", after: 1 }) },
  {
    method: "PUT",
    path: "/v1/functions/{fn}",
    text: "export const input = 1",
    query: ["alias", "timeMs"],
  },
  {
    method: "PUT",
    path: "/v1/functions/{fn}",
    body: () => ({ source: "export const x = 1", limits: { timeMs: 100 }, aliases: ["a"] }),
  },
  { method: "GET", path: "/v1/functions" },
  { method: "GET", path: "/v1/functions/{fn}" },
  { method: "DELETE", path: "/v1/functions/{fn}" },
  { method: "GET", path: "/v1/functions/{fn}/versions/{v}" },
  { method: "DELETE", path: "/v1/functions/{fn}/versions/{v}" },
  { method: "PUT", path: "/v1/functions/{fn}/aliases/{alias}", body: () => ({ version: 1 }) },
  { method: "DELETE", path: "/v1/functions/{fn}/aliases/{alias}" },
  {
    method: "POST",
    path: "/v1/functions/{fn}/invoke",
    body: () => ({ dataset: KEEP, version: 1, params: {}, each: false, args: {}, use: 1, wait: 5 }),
  },
  {
    method: "PUT",
    path: "/v1/pipelines/{ds}",
    body: () => ({ source: "fz", function: "sum", use: "prod", placement: "in-situ", queue: 2 }),
  },
  { method: "GET", path: "/v1/pipelines" },
  { method: "GET", path: "/v1/pipelines/{ds}" },
  { method: "DELETE", path: "/v1/pipelines/{ds}" },
  { method: "GET", path: "/v1/pipelines/{ds}/results/{v}" },
  { method: "GET", path: "/v1/datasets/{ds}/versions/{v}/lineage" },
  {
    method: "GET",
    path: "/v1/datasets/{ds}/fragments/{frag}/steps",
    query: ["from", "limit", "policy", "blockMs", "group", "assign", "ahead", "wait", "lo"],
    stream: true,
  },
  {
    method: "POST",
    path: "/v1/datasets/{ds}/versions/{v}/fragments/{frag}/map",
    query: ["lo", "wait", "ttl"],
  },
  {
    method: "POST",
    path: "/v1/datasets/{ds}/versions/{v}/fragments/{frag}/parts",
    query: ["lo", "wait", "ttl"],
  },
  { method: "POST", path: "/v1/datasets/{ds}/versions/{v}/fragments/{frag}/stage", query: ["lo"] },
  { method: "POST", path: "/v1/stages/{stage}" },
  { method: "DELETE", path: "/v1/stages/{stage}" },
  { method: "POST", path: "/v1/leases/{lease}/renew", query: ["ttl"] },
  { method: "DELETE", path: "/v1/leases/{lease}" },
  { method: "GET", path: "/v1/datasets/{ds}/versions/{v}/export" },
  {
    method: "POST",
    path: "/v1/datasets/{ds}/import",
    file: hdf5File,
    query: ["retention", "durable"],
  },
  { method: "GET", path: "/metrics" },
  { method: "GET", path: "/ui" },
  { method: "GET", path: "/ui/" },
  { method: "GET", path: "/ui/app.js" },
  { method: "GET", path: "/ui/uplot.js" },
  { method: "GET", path: "/ui/uplot.css" },
  {
    method: "POST",
    path: "/v1/runs",
    body: () => ({
      function: { name: "sum", version: 1, digest: "sha256:00" },
      source: { dataset: KEEP, version: 1 },
      units: [{}],
    }),
  },
];

const METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"];
const TYPES = [
  "application/json",
  "application/msgpack",
  "text/plain",
  "application/typescript",
  "application/octet-stream",
  "",
  "application/json; charset=utf-8",
  "multipart/form-data; boundary=x",
  "APPLICATION/JSON",
];
const ACCEPTS = ["", "application/json", "application/msgpack", "*/*", "text/html"];
const AUTH = [
  `Bearer ${TOKEN}`,
  `bearer ${TOKEN}`,
  `BEARER ${TOKEN}`,
  "",
  "Bearer nope",
  "Basic x",
];
const QUERY_VALUES = [
  "0",
  "1",
  "-1",
  "2",
  "x",
  "",
  "1e400",
  "99999999999999999999",
  "n1",
  LONG,
  "true",
  "block",
  "drop-oldest",
  "round-robin",
];
const QUERY_KEYS = [
  "lo",
  "wait",
  "reshape",
  "tier",
  "node",
  "after",
  "atLeast",
  "timeoutMs",
  "alias",
  "session",
  "ttl",
  "from",
  "limit",
  "policy",
];

Deno.test("no malformed request on any route answers 5xx or a code of its own", async () => {
  const next = mulberry32(SEED);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!;
  const started = performance.now();
  await withApiApp(async ({ request }) => {
    const seen = new Map<string, number>();
    const failures = new Map<string, string>();
    // Stage, lease and stream ids the app handed out, named again by later requests.
    const handed: Record<"stage" | "lease" | "id", string[]> = { stage: [], lease: [], id: [] };
    const idOf = (kind: keyof typeof handed) =>
      handed[kind].length > 0 && next() < 0.6 ? pick(handed[kind]) : pick(NAMES);
    for (let round = 0; round < ROUNDS; round++) {
      const route = pick(ROUTES);
      const names: Record<string, string> = {
        // Valid names often enough that routes get past their lookups.
        ds: next() < 0.3 ? "fz" : pick(NAMES),
        v: next() < 0.3 ? "1" : pick(VERSIONS),
        frag: next() < 0.3 ? "dataset" : pick(FRAGMENTS),
        fn: next() < 0.3 ? "sum" : pick(NAMES),
        alias: pick(["prod", "latest", ...NAMES]),
        stage: idOf("stage"),
        lease: idOf("lease"),
        id: idOf("id"),
      };
      const method = next() < 0.85 ? route.method : pick(METHODS);
      // The seeded function stays: no valid delete or alias move of it.
      if (names.fn === "sum" && method !== "GET" && method !== "HEAD" && method !== "POST") {
        names.fn = "fz";
      }
      let path = route.path.replace(/\{(\w+)\}/g, (_, k: string) => names[k]!);
      const query = new URLSearchParams();
      for (const k of route.query ?? []) {
        if (next() < 0.5) query.append(k, pick(QUERY_VALUES));
      }
      if (next() < 0.2) query.append(pick(QUERY_KEYS), pick(QUERY_VALUES));
      // A block stream's id, which taken reports name.
      if (route.stream === true && query.get("id") !== null && next() < 0.5) {
        query.set("id", `s${round}`);
        handed.id.push(`s${round}`);
      }
      if ([...query].length > 0) path += `?${query}`;
      const headers = new Headers();
      const auth = next() < 0.85 ? AUTH[next() < 0.7 ? 0 : 1]! : pick(AUTH);
      if (auth !== "") headers.set("authorization", auth);
      const accept = pick(ACCEPTS);
      if (accept !== "") headers.set("accept", accept);
      const { type, body } = await bodyFor(route, next, pick);
      if (type !== "") headers.set("content-type", type);
      const init: RequestInit = { method, headers };
      if (body !== undefined && method !== "GET" && method !== "HEAD") init.body = body;
      const res = await request(path, init);
      if (method === "HEAD") {
        await res.body?.cancel();
        // A HEAD answer carries no body: the same GET says why it is 503.
        const why = res.status === 503 ? await request(path, { ...init, method: "GET" }) : res;
        if (why !== res) await checkAnswer(why, `HEAD ${path} as GET`, accept);
        else assert.ok(res.status < 500, `${method} ${path} answered ${res.status}`);
        continue;
      }
      const what = `round ${round}: ${method} ${path.slice(0, 120)} (${type})`;
      try {
        if (route.stream === true && res.status < 400) {
          // A subscription answers its stream at once and keeps it open.
          assert.ok(
            ["application/x-ndjson", "application/x-strata-steps"].includes(
              res.headers.get("content-type") ?? "",
            ),
            what,
          );
          await res.body?.cancel();
        } else {
          const answer = await checkAnswer(res, what, accept);
          await remember(answer, handed, next);
        }
      } catch (e) {
        const key = `${route.method} ${route.path} ${res.status}`;
        if (!failures.has(key)) failures.set(key, (e as Error).message.slice(0, 600));
      }
      const key = `${route.method} ${route.path} ${res.status}`;
      seen.set(key, (seen.get(key) ?? 0) + 1);
    }
    assert.deepEqual([...failures.values()], []);
    // The seeded dataset and function are unchanged.
    const described = await (await request(`/v1/datasets/${KEEP}`)).json();
    assert.equal(described.description, KEEP_DESCRIPTION);
    assert.deepEqual(described.versions.map((v: { version: number }) => v.version), [1]);
    const attached = await request(`/v1/datasets/${KEEP}/versions/1/fragments/dataset`);
    assert.deepEqual(new Uint8Array(await attached.arrayBuffer()), KEEP_BYTES);
    const fn = await (await request("/v1/functions/sum/versions/1")).json();
    assert.equal(fn.source, SUM);
    const aliases = (await (await request("/v1/functions/sum")).json()).aliases;
    assert.equal(aliases.prod, 1);
    // Most routes were reached with a valid request at least once.
    const ok = [...seen].filter(([k]) => / 20\d$/.test(k)).length;
    assert.ok(ok >= 20, `only ${ok} route outcomes succeeded: ${[...seen.keys()].join(", ")}`);
  });
  const seconds = (performance.now() - started) / 1000;
  assert.ok(seconds < 60, `the fuzz took ${seconds.toFixed(1)} s`);
});

/**
 * Keeps the stage and lease ids of a successful answer; a stage's file is
 * then written with its size or a wrong one, or left empty.
 */
async function remember(
  answer: Record<string, unknown> | undefined,
  handed: Record<"stage" | "lease" | "id", string[]>,
  next: () => number,
): Promise<void> {
  if (answer === undefined) return;
  if (typeof answer.lease === "string") handed.lease.push(answer.lease);
  if (typeof answer.stage === "string" && typeof answer.path === "string") {
    handed.stage.push(answer.stage);
    const size = answer.byteLength as number;
    const r = next();
    if (r < 0.6) await Deno.writeFile(answer.path, new Uint8Array(r < 0.5 ? size : size + 1));
  }
}

/** A body for `route`: its valid body, mutated, in JSON or msgpack, or junk. */
async function bodyFor(
  route: Route,
  next: () => number,
  pick: <T>(xs: readonly T[]) => T,
): Promise<{ type: string; body: BodyInit | undefined }> {
  const r = next();
  if (r < 0.15) {
    const junk = [
      "",
      "null",
      "[]",
      "1",
      '"x"',
      "true",
      "{",
      "{}",
      '{"__proto__": {"x": 1}}',
      "\u0000\uffff",
      "x".repeat(70 * 1024),
    ];
    return { type: pick(TYPES), body: pick(junk) };
  }
  if (r < 0.2) {
    const bytes = new Uint8Array(Math.floor(next() * 64));
    for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(next() * 256);
    return { type: pick(TYPES), body: bytes };
  }
  if (route.file !== undefined) {
    const file = new Uint8Array(await route.file());
    const r = next();
    if (r < 0.3) {
      for (let i = 0; i < 1 + Math.floor(next() * 8); i++) {
        file[Math.floor(next() * file.length)] = Math.floor(next() * 256);
      }
    }
    const body = r >= 0.3 && r < 0.5 ? file.slice(0, Math.floor(next() * file.length)) : file;
    return { type: next() < 0.8 ? "application/x-hdf5" : pick(TYPES), body };
  }
  if (route.bytes === true) {
    const n = pick([0, 16, 31, 32, 33, 64, 2 << 20]);
    return {
      type: next() < 0.8 ? "application/octet-stream" : pick(TYPES),
      body: new Uint8Array(n),
    };
  }
  if (route.text !== undefined) {
    return {
      type: next() < 0.8 ? "text/plain" : pick(TYPES),
      body: next() < 0.5 ? route.text : mutateText(route.text, next),
    };
  }
  if (route.body === undefined) {
    return next() < 0.7 ? { type: "", body: undefined } : { type: pick(TYPES), body: "{}" };
  }
  const value = next() < 0.15 ? route.body() : mutate(route.body(), next, pick);
  if (next() < 0.3) return { type: "application/msgpack", body: msgpack(value) };
  return {
    type: next() < 0.9 ? "application/json" : pick(TYPES),
    body: JSON.stringify(value) ?? "",
  };
}

function msgpack(value: unknown): Uint8Array<ArrayBuffer> {
  return encode(value) as Uint8Array<ArrayBuffer>;
}

function mutateText(text: string, next: () => number): string {
  const at = Math.floor(next() * text.length);
  const inserts = ["{", "}", "[", "]", "\u0000", "x".repeat(3000), "[".repeat(64), "var"];
  return text.slice(0, at) + inserts[Math.floor(next() * inserts.length)] + text.slice(at + 1);
}

/** Replaces, removes or adds one field somewhere in `value`; sometimes the whole value. */
function mutate(value: unknown, next: () => number, pick: <T>(xs: readonly T[]) => T): unknown {
  if (next() < 0.1) return pick(VALUES);
  if (typeof value !== "object" || value === null) return pick(VALUES);
  const copy: Record<string, unknown> | unknown[] = Array.isArray(value)
    ? [...value]
    : { ...value };
  const keys = Object.keys(copy);
  const r = next();
  if (keys.length === 0 || r < 0.1) {
    (copy as Record<string, unknown>)[pick(["extra", "name", "0"])] = pick(VALUES);
    return copy;
  }
  const k = pick(keys);
  const inner = (copy as Record<string, unknown>)[k];
  if (r < 0.25) delete (copy as Record<string, unknown>)[k];
  else if (r < 0.55 && typeof inner === "object" && inner !== null) {
    (copy as Record<string, unknown>)[k] = mutate(inner, next, pick);
  } else (copy as Record<string, unknown>)[k] = pick(VALUES);
  return copy;
}

/**
 * An answer is a body its status allows; an error is the project's own, in
 * the format asked. Returns a successful JSON answer's body.
 */
async function checkAnswer(
  res: Response,
  what: string,
  accept: string,
): Promise<Record<string, unknown> | undefined> {
  const bytes = new Uint8Array(await res.arrayBuffer());
  if (res.status === 503 && (what.includes(" /v1/replicas") || elsewhere(res, bytes))) {
    // Bytes held by another node are fetched from it: one that does not
    // answer or is down (here: the nodes the fuzz registers copies on,
    // which nothing can reach) is 503 `unavailable` by design.
    return;
  }
  assert.ok(res.status < 500, `${what} answered ${res.status}: ${new TextDecoder().decode(bytes)}`);
  if (res.status < 400) {
    if (res.headers.get("content-type")?.startsWith("application/json")) {
      const body = JSON.parse(new TextDecoder().decode(bytes));
      for (const r of body?.results ?? []) checkCode(r.error, undefined, `${what} (batch)`);
      return body;
    }
    return;
  }
  const type = res.headers.get("content-type") ?? "";
  const msgpackOnly = accept === "application/msgpack";
  assert.ok(
    msgpackOnly ? type === "application/msgpack" : type.startsWith("application/json"),
    `${what}: error as '${type}' for accept '${accept}'`,
  );
  const body = msgpackOnly
    ? decode(bytes) as { error?: unknown }
    : JSON.parse(new TextDecoder().decode(bytes));
  checkCode(body.error, res.status, what);
  return undefined;
}

/** Whether an error answer is `unavailable` because of a node other than this one (n1). */
function elsewhere(res: Response, bytes: Uint8Array): boolean {
  const type = res.headers.get("content-type") ?? "";
  let body: { error?: { code?: string; message?: string } };
  try {
    body = (type === "application/msgpack"
      ? decode(bytes)
      : JSON.parse(new TextDecoder().decode(bytes))) as typeof body;
  } catch {
    return false;
  }
  return body?.error?.code === "unavailable" &&
    /node '(?!n1')[^']*'/.test(body.error.message ?? "");
}

function checkCode(error: unknown, status: number | undefined, what: string): void {
  if (error === undefined) return;
  const e = error as { code?: unknown; message?: unknown };
  assert.equal(typeof e.code, "string", what);
  assert.ok(
    Object.hasOwn(STATUS_OF_CODE, e.code as string),
    `${what}: unknown code '${e.code}': ${e.message}`,
  );
  const expected = STATUS_OF_CODE[e.code as HttpErrorCode];
  assert.ok(expected < 500, `${what}: code '${e.code}' (${expected}): ${e.message}`);
  if (status !== undefined) assert.equal(status, expected, `${what}: ${e.message}`);
  assert.equal(typeof e.message, "string", what);
}

Deno.test("the fuzz sends requests to every route the app serves", async () => {
  // A route added to the app without a line in ROUTES above is never fuzzed.
  await withApiApp(({ app }) => {
    const shape = (path: string) => path.replace(/\{\w+\}|:\w+/g, ":");
    const fuzzed = new Set(ROUTES.map((r) => `${r.method} ${shape(r.path)}`));
    const served = new Set(
      app.routes.filter((r) => r.method !== "ALL").map((r) => `${r.method} ${shape(r.path)}`),
    );
    assert.ok(served.size > 60, `only ${served.size} routes served`);
    assert.deepEqual([...served].filter((r) => !fuzzed.has(r)), []);
    return Promise.resolve();
  });
});
