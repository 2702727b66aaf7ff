import assert from "node:assert/strict";
import { startServer } from "./_server.ts";
import { PYTHON, pythonEnv, pythonHas } from "./_python.ts";

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

/** Runs `examples/mpi/<script>` on `ranks` ranks on this machine; its rank 0's JSON line. */
async function mpirun(ranks: number, script: string, args: readonly string[]) {
  const out = await new Deno.Command("mpirun", {
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
  }).output();
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
