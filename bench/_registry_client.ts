/**
 * One client process of the registry benchmark: runs `clients` concurrent
 * loops of one operation against a server for `seconds`, then prints
 * `{ops, seconds, errors}` as JSON.
 *
 * Args: URL OP CLIENTS SECONDS BATCH TAG
 *   OP: create | publish | attach | etcd (URL is then etcd's client URL: puts
 *       through its JSON gateway, BATCH puts per request as one txn)
 *
 * @module
 */

import { cellCopy } from "./_cells.ts";

const [url, op, clientsText, secondsText, batchText, tag] = Deno.args as [
  string,
  "create" | "publish" | "attach" | "etcd",
  string,
  string,
  string,
  string,
];
const clients = Number(clientsText);
const seconds = Number(secondsText);
const batch = Number(batchText);
const deadline = performance.now() + seconds * 1000;
let ops = 0;
let errors = 0;
let counter = 0;
let firstError = "";

const description =
  "dataset cells { var t [1073741824]int8 }\nfragment cell(r) { var t = t[r:r + 1] }";

async function call(path: string, body: unknown): Promise<unknown> {
  const res = await fetch(url + path, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const out = await res.json();
  if (!res.ok) throw new Error(JSON.stringify(out));
  return out;
}

function publishOp(r: number) {
  return { op: "publish", ...cellCopy(`cells-${tag}`, r) };
}

function attachOp(r: number) {
  return {
    op: "lookup",
    dataset: `committed-${tag}`,
    version: "latest",
    fragment: "cell",
    bindings: { r },
  };
}

async function setup() {
  if (op === "etcd") return;
  if (op === "publish") await call("/v1/datasets", { name: `cells-${tag}`, description });
  if (op === "attach") {
    await call("/v1/datasets", { name: `committed-${tag}`, description });
    await call("/v1/batch", {
      ops: [publishOp(0)].map((o) => ({ ...o, dataset: `committed-${tag}` })),
    });
    await call(`/v1/datasets/committed-${tag}/versions/1/commit`, {});
  }
}

function etcdPut(n: number) {
  return { key: btoa(`/bench/${tag}/${n}`), value: btoa(`{"n":${n}}`) };
}

async function loop() {
  while (performance.now() < deadline) {
    try {
      if (op === "etcd") {
        if (batch === 1) await call("/v3/kv/put", etcdPut(counter++));
        else {
          const success = Array.from({ length: batch }, () => ({ requestPut: etcdPut(counter++) }));
          await call("/v3/kv/txn", { success });
        }
      } else if (op === "create") {
        const n = counter++;
        if (batch === 1) await call("/v1/datasets", { name: `d-${tag}-${n}`, description });
        else {
          const ops = Array.from(
            { length: batch },
            (_, k) => ({ op: "create", name: `d-${tag}-${n}-${k}`, description }),
          );
          const { results } = await call("/v1/batch", { ops }) as {
            results: { error?: unknown }[];
          };
          const bad = results.filter((r) => r.error !== undefined);
          if (bad.length > 0) {
            errors += bad.length;
            firstError ||= JSON.stringify(bad[0]);
          }
        }
      } else {
        const list = Array.from({ length: batch }, () => {
          const r = counter++;
          return op === "publish" ? publishOp(r) : attachOp(r % 1);
        });
        const { results } = await call("/v1/batch", { ops: list }) as {
          results: { error?: unknown }[];
        };
        const bad = results.filter((r) => r.error !== undefined);
        if (bad.length > 0) {
          errors += bad.length;
          firstError ||= JSON.stringify(bad[0]);
        }
      }
      ops += batch;
    } catch (e) {
      errors++;
      firstError ||= String(e);
    }
  }
}

await setup();
const start = performance.now();
await Promise.all(Array.from({ length: clients }, loop));
console.log(
  JSON.stringify({ ops, seconds: (performance.now() - start) / 1000, errors, firstError }),
);
