import assert from "node:assert/strict";
import { startServer } from "./_server.ts";
import { particlesDescription, particlesStep, PYTHON, pythonEnv, pythonHas } from "./_python.ts";
import { connect } from "../src/client/mod.ts";

/** Whether `mpirun` runs; a WARNING line when not. */
async function hasMpirun(): Promise<boolean> {
  try {
    const out = await new Deno.Command("mpirun", {
      args: ["--version"],
      stdout: "null",
      stderr: "null",
    }).output();
    if (out.success) return true;
  } catch { /* missing, or not allowed */ }
  console.warn(
    "WARNING: skipping the MPI test: mpirun is not available (apt-get install openmpi-bin)",
  );
  return false;
}

/** `examples/mpi/<script>` on `ranks` ranks on this machine, its output piped. */
function mpiCommand(ranks: number, script: string, args: readonly string[]): Deno.Command {
  return new Deno.Command("mpirun", {
    args: [
      "--oversubscribe",
      "--allow-run-as-root",
      "--mca",
      "btl_tcp_if_include",
      "lo",
      "-x",
      "PYTHONPATH",
      "-x",
      "PYTHONNOUSERSITE",
      "-n",
      String(ranks),
      PYTHON,
      `examples/mpi/${script}`,
      ...args,
    ],
    env: pythonEnv(),
    stdout: "piped",
    stderr: "piped",
  });
}

/** Runs `examples/mpi/<script>` on `ranks` ranks on this machine; its rank 0's JSON line. */
async function mpirun(ranks: number, script: string, args: readonly string[]) {
  const out = await mpiCommand(ranks, script, args).output();
  const stdout = new TextDecoder().decode(out.stdout);
  assert.equal(
    out.code,
    0,
    `${script} on ${ranks} ranks:\n${stdout}\n${new TextDecoder().decode(out.stderr)}`,
  );
  const line = stdout.trim().split("\n").findLast((l) => l.startsWith("{"));
  return JSON.parse(line ?? "null");
}

Deno.test("MPI: 4 writer ranks checkpoint a 2-D field, 4, 2 and 1 reader ranks restart from it, every value verified", async () => {
  if (!(await pythonHas(["numpy", "mpi4py"], "the MPI test")) || !(await hasMpirun())) return;
  const server = await startServer();
  const [rows, cols] = ["300", "200"];
  try {
    for (const version of ["1", "2"]) {
      const wrote = await mpirun(4, "checkpoint.py", [server.url, rows, cols, version]);
      assert.deepEqual(
        { writers: wrote.writers, version: wrote.version, committed: wrote.committed },
        { writers: 4, version: Number(version), committed: 1 },
      );
    }
    for (const readers of [4, 2, 1]) {
      const read = await mpirun(readers, "restart.py", [server.url, rows, cols, "2"]);
      assert.deepEqual(
        { readers: read.readers, version: read.version, values: read.values, wrong: read.wrong },
        { readers, version: 2, values: 300 * 200, wrong: 0 },
      );
    }
  } finally {
    await server.stop();
  }
});

Deno.test("MPI: HEPnOS's parallel event processor on 1, T-1, T and 2T+1 ranks processes each event exactly once", async () => {
  if (
    !(await pythonHas(["numpy", "mpi4py", "msgpack"], "the MPI HEPnOS test")) ||
    !(await hasMpirun())
  ) return;
  const targets = 4;
  const server = await startServer({
    extra: `services:\n  hepnos: { targets: ${targets}, durable: false }\n`,
  });
  try {
    for (const ranks of [1, targets - 1, targets, 2 * targets + 1]) {
      const got = await mpirun(ranks, "hepnos_process.py", [
        server.url,
        `pep${ranks}`,
        "2",
        "4",
        "25",
      ]);
      assert.equal(got.ranks, ranks);
      assert.equal(got.events, 200);
      assert.deepEqual(
        [got.duplicates, got.missing, got.unexpected, got.wrongProducts],
        [0, 0, 0, 0],
        JSON.stringify(got),
      );
      assert.equal((got.processed as number[]).reduce((a, b) => a + b, 0), 200);
      assert.equal((got.processed as number[]).length, ranks);
    }
  } finally {
    await server.stop();
  }
});

Deno.test("MPI: analysis ranks share a stream's versions as one consumer group, each version to exactly one rank", async () => {
  if (!(await pythonHas(["numpy", "mpi4py"], "the MPI analysis test")) || !(await hasMpirun())) {
    return;
  }
  const server = await startServer();
  const strata = connect(server.url);
  const n = 1024;
  const steps = 12;
  try {
    await strata.createDataset(
      "particles",
      particlesDescription(n),
      { retention: steps },
    );
    const child = mpiCommand(3, "analysis.py", [server.url, "particles", "xyz", "2"]).spawn();
    const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!text.includes("ready\n")) {
      const { value, done } = await lines.read();
      if (done) break;
      text += value;
    }
    for (let v = 1; v <= steps; v++) {
      await strata.publish("particles", v, "dataset", particlesStep(n, v));
    }
    for (;;) {
      const { value, done } = await lines.read();
      if (done) break;
      text += value;
    }
    const status = await child.status;
    const stderr = new TextDecoder().decode(await new Response(child.stderr).arrayBuffer());
    assert.equal(status.code, 0, `${text}\n${stderr}`);
    const got = JSON.parse(text.trim().split("\n").findLast((l) => l.startsWith("{"))!);
    assert.equal(got.ranks, 3);
    assert.deepEqual(got.versions, Array.from({ length: steps }, (_, i) => i + 1));
    assert.equal(got.duplicates, 0);
    assert.equal((got.perRank as number[]).reduce((a, b) => a + b, 0), steps);
    // Every rank had joined before the first version: round-robin gives each its share.
    assert.ok((got.perRank as number[]).every((k) => k > 0), JSON.stringify(got.perRank));
    for (let v = 1; v <= steps; v++) assert.equal(got.means[String(v)], v * 1000 + (n - 1) / 2);
  } finally {
    await server.stop();
  }
});
