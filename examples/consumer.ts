/**
 * A consumer: waits for each new version of `particles` and attaches only the
 * positions, as float32 columns.
 *
 * ```sh
 * deno run --allow-net=127.0.0.1 --allow-env=STRATA_URL examples/consumer.ts [versions] [url]
 * ```
 *
 * The server is `url`, else `$STRATA_URL`, else http://127.0.0.1:7070. It
 * starts at the oldest version the dataset still keeps (1 before the
 * producer's first step), so it may start before or after the producer.
 *
 * @module
 */

import { connect, ServerError } from "../src/client/mod.ts";

const count = Number(Deno.args[0] ?? 5);
const strata = connect(Deno.args[1] ?? envUrl() ?? "http://127.0.0.1:7070");

// The consumer may start before the producer has created the dataset: wait
// for it to appear (up to a minute) rather than fail.
const deadline = Date.now() + 60_000;
let next = 1;
for (;;) {
  try {
    const kept = (await strata.versions("particles")).filter((v) => v.state !== "retired");
    next = (kept[0]?.version as number | undefined) ?? 1;
    break;
  } catch (e) {
    if (!(e instanceof ServerError && e.code === "not_found") || Date.now() > deadline) throw e;
    await new Promise((r) => setTimeout(r, 100));
  }
}

for (let k = 0; k < count; k++) {
  const a = await strata.attach("particles", "xyz", { version: next, waitMs: 60_000 });
  const x = a.field("p.x") as Float32Array;
  const y = a.field("p.y") as Float32Array;
  let cx = 0;
  let cy = 0;
  for (let i = 0; i < x.length; i++) {
    cx += x[i]!;
    cy += y[i]!;
  }
  console.log(
    `version ${a.version}: ${x.length} particles as ${a.bytes.byteLength} bytes of columns, centre x=${
      (cx / x.length).toFixed(4)
    } y=${(cy / x.length).toFixed(4)}`,
  );
  next = a.version + 1;
}

/** `STRATA_URL`, when set and readable (`--allow-env=STRATA_URL`). */
function envUrl(): string | undefined {
  const env = Deno.permissions.querySync({ name: "env", variable: "STRATA_URL" });
  return env.state === "granted" ? Deno.env.get("STRATA_URL") || undefined : undefined;
}
