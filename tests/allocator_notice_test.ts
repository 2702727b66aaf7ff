import assert from "node:assert/strict";
import { MALLOC_TUNABLES } from "../src/cli/malloc_tunables.ts";

/** Runs `strata serve` with `GLIBC_TUNABLES` set to `tunables` until it listens, stops it, and returns its stderr. */
async function serveStderr(tunables: string): Promise<string> {
  await Deno.mkdir("tmp", { recursive: true });
  const dir = await Deno.makeTempDir({ dir: "tmp" });
  try {
    const child = new Deno.Command("deno", {
      args: [
        "run",
        "--allow-net=127.0.0.1",
        `--allow-read=config,placements,${dir}`,
        `--allow-write=${dir}`,
        "--allow-env=LOG_TOKENS,LOG_STREAM,GLIBC_TUNABLES",
        "--allow-run=deno,sh",
        "src/cli/main.ts",
        "serve",
        "--port",
        "0",
        "--data-dir",
        dir,
      ],
      env: { GLIBC_TUNABLES: tunables },
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const stderr = new Response(child.stderr).text();
    const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let seen = "";
    while (!seen.includes("listening on")) {
      const { value, done } = await lines.read();
      if (done) throw new Error(`serve ended before listening: ${seen}`);
      seen += value;
    }
    child.kill("SIGTERM");
    await lines.cancel();
    await child.status;
    return await stderr;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("a server started without the allocator settings warns once it listens, and names them", async () => {
  const stderr = await serveStderr("");
  assert.match(stderr, /WARN allocator/);
  assert.ok(stderr.includes(`GLIBC_TUNABLES=${MALLOC_TUNABLES}`), stderr);
});

Deno.test("a server started with the allocator settings says nothing of them", async () => {
  const stderr = await serveStderr(MALLOC_TUNABLES);
  assert.doesNotMatch(stderr, /allocator/);
});

Deno.test("the deno.json tasks and the Slurm script start Strata with the allocator settings of malloc_tunables.ts", async () => {
  const tasks = JSON.parse(await Deno.readTextFile("deno.json")).tasks as Record<string, string>;
  for (const name of ["start", "nameserver", "runtime", "test", "bench"]) {
    assert.ok(tasks[name]!.startsWith(`GLIBC_TUNABLES=${MALLOC_TUNABLES} deno `), name);
  }
  const sbatch = await Deno.readTextFile("examples/slurm/strata.sbatch");
  assert.ok(sbatch.includes(`GLIBC_TUNABLES=${MALLOC_TUNABLES} \\`), "strata.sbatch");
});
