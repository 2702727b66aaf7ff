import assert from "node:assert/strict";
import { startServer } from "./_server.ts";
import {
  lastJson,
  particlesDescription,
  particlesStep,
  PYTHON,
  pythonEnv,
  pythonHas,
  runPython,
} from "./_python.ts";
import { type Client, connect } from "../src/client/mod.ts";
import { STATUS_OF_CODE } from "../src/api/errors.ts";

/** YAML of a server whose copies go to an shm tier in its data directory (on the test's disk). */
async function shmServer() {
  await Deno.mkdir("tmp", { recursive: true });
  const dataDir = await Deno.makeTempDir({ dir: "tmp" });
  const shm = `${Deno.cwd()}/${dataDir}/shm`;
  const extra = `tiers:\n  - { name: shm, kind: shm, capacity: 1GiB, path: ${shm} }\n` +
    `  - { name: file, kind: file, capacity: 4GiB }\n`;
  return { server: await startServer({ dataDir, extra }), shm };
}

function ok(ran: { code: number; stdout: string; stderr: string }): void {
  assert.equal(ran.code, 0, `python failed:\n${ran.stdout}\n${ran.stderr}`);
}

/** The lines a Python test script printed for the checks that passed (`ok ...`), in order. */
function okLines(stdout: string): string[] {
  return stdout.split("\n").filter((l) => l.startsWith("ok "));
}

Deno.test("Python client installs offline with pip from clients/python", async () => {
  if (!(await pythonHas(["setuptools", "pip", "numpy"], "the offline pip install"))) return;
  await Deno.mkdir("tmp", { recursive: true });
  const target = `${Deno.cwd()}/${await Deno.makeTempDir({ dir: "tmp" })}`;
  try {
    const install = await new Deno.Command(PYTHON, {
      args: [
        "-m",
        "pip",
        "install",
        "--quiet",
        "--no-index",
        "--no-build-isolation",
        "--no-deps",
        "--target",
        target,
        "./clients/python",
      ],
      env: { PIP_DISABLE_PIP_VERSION_CHECK: "1", PIP_ROOT_USER_ACTION: "ignore" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(install.code, 0, new TextDecoder().decode(install.stderr));
    const run = await new Deno.Command(PYTHON, {
      args: ["-c", "import strata; print(strata.__file__, strata.connect)"],
      env: { PYTHONPATH: target },
      cwd: "tmp",
      stdout: "piped",
    }).output();
    assert.match(new TextDecoder().decode(run.stdout), new RegExp(`${target}/strata/__init__.py`));
  } finally {
    await Deno.remove(target, { recursive: true });
    // setuptools builds in place: leave the source tree as it was.
    await Deno.remove("clients/python/build", { recursive: true }).catch(() => {});
    await Deno.remove("clients/python/strata_client.egg-info", { recursive: true }).catch(() => {});
  }
});

Deno.test("Python client attaches structs, columns and N-D blocks as numpy and raises the server's codes", async () => {
  if (!(await pythonHas(["numpy"], "the Python client test"))) return;
  const server = await startServer();
  try {
    const ran = await runPython("client_basics.py", [server.url]);
    ok(ran);
    assert.deepEqual(okLines(ran.stdout), [
      "ok publish-views",
      "ok attach-dataset",
      "ok attach-structs",
      "ok attach-columns",
      "ok attach-nd",
      "ok attach-into",
      "ok versions",
      "ok datasets",
      "ok errors",
    ]);
    const { codes, errors } = lastJson(ran.stdout) as {
      codes: string[];
      errors: Record<string, { status: number; code: string; message: string }>;
    };
    // One class per code the server answers (and `internal`): a new code needs its class.
    const missing = [...Object.keys(STATUS_OF_CODE), "internal"].filter((c) => !codes.includes(c));
    assert.deepEqual(missing, [], "clients/python/strata/errors.py lacks classes of these codes");
    assert.deepEqual(errors.SizeMismatchError, {
      status: 400,
      code: "size_mismatch",
      message: "Cannot publish fragment 'dataset': expected 67200 bytes, received 3",
    });
    assert.equal(errors.TimeoutError?.status, 408);
    assert.equal(errors.NotHereError?.status, 421);
  } finally {
    await server.stop();
  }
});

Deno.test("Python client maps an shm copy read-only in place and the lease keeps it until released", async () => {
  if (!(await pythonHas(["numpy"], "the zero-copy map test"))) return;
  const { server, shm } = await shmServer();
  try {
    const ran = await runPython("client_map.py", [server.url]);
    ok(ran);
    assert.deepEqual(okLines(ran.stdout), [
      "ok mapped",
      "ok freed-keeps-mapping",
      "ok released",
      "ok stream",
      "ok http",
      "ok parts",
      "ok parts-without-renewal",
      "ok staged",
    ]);
    const { path, lease } = lastJson(ran.stdout) as { path: string; lease: string };
    assert.equal(path, `${await Deno.realPath(shm)}/.leases/${lease}.bin`);
    // Every lease was released: no link is left holding bytes.
    assert.deepEqual([...Deno.readDirSync(`${shm}/.leases`)], []);
    const res = await fetch(`${server.url}/v1/leases/${lease}`, { method: "DELETE" });
    assert.equal(res.status, 404);
    assert.equal((await res.json()).error.code, "not_found");
  } finally {
    await server.stop();
  }
});

/**
 * A server with dataset `particles` of 4096 particles (fragment `xyz`: float32 columns)
 * keeping `retention` versions, and a Python consumer `script` (server URL, dataset,
 * `steps` in argv) started before `produce` publishes; the consumer's stdout.
 */
async function streamToPython(
  script: string,
  steps: number,
  retention: number,
  produce: (publish: (v: number) => Promise<unknown>, strata: Client) => Promise<void>,
): Promise<string> {
  const server = await startServer();
  const strata = connect(server.url);
  const n = 4096;
  try {
    await strata.createDataset(
      "particles",
      particlesDescription(n),
      { retention },
    );
    const consumer = new Deno.Command(PYTHON, {
      args: [script, server.url, "particles", String(steps)],
      env: pythonEnv(),
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const out = consumer.output();
    await produce((v) => strata.publish("particles", v, "dataset", particlesStep(n, v)), strata);
    const ran = await out;
    const text = new TextDecoder().decode(ran.stdout);
    assert.equal(ran.code, 0, text + new TextDecoder().decode(ran.stderr));
    return text;
  } finally {
    await server.stop();
  }
}

Deno.test("Python client streams every step a TypeScript producer publishes, values verified", async () => {
  if (!(await pythonHas(["numpy"], "the Python stream test"))) return;
  const text = await streamToPython(
    "tests/python/client_stream.py",
    5,
    2,
    async (publish, strata) => {
      for (let v = 1; v <= 5; v++) {
        await publish(v);
        // A step at a time, as a simulation produces them: the consumer keeps up.
        await strata.attach("particles", "xyz", { version: v });
        await new Promise((r) => setTimeout(r, 150));
      }
    },
  );
  assert.deepEqual(lastJson(text), { versions: [1, 2, 3, 4, 5] });
});

Deno.test("Python client streams pushed steps with the runtime fetching ahead, values verified", async () => {
  if (!(await pythonHas(["numpy"], "the Python pushed-steps test"))) return;
  const text = await streamToPython("tests/python/client_steps.py", 12, 32, async (publish) => {
    // The producer does not wait for the consumer: the stream's subscription queues them.
    for (let v = 1; v <= 12; v++) await publish(v);
  });
  assert.deepEqual(okLines(text), [
    "ok pushed",
    "ok break",
    "ok latest",
    "ok unknown fragment",
    "ok refused",
  ]);
  assert.deepEqual(lastJson(text), { versions: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12] });
});

Deno.test("Python client deploys a function, moves an alias, invokes it on each fragment and keeps a pipeline", async () => {
  if (!(await pythonHas(["numpy"], "the Python functions test"))) return;
  const server = await startServer();
  try {
    const ran = await runPython("client_functions.py", [server.url, "functions/histogram.ts"]);
    ok(ran);
    const got = lastJson(ran.stdout);
    assert.equal(got.version, 1);
    assert.deepEqual(got.aliases, { latest: 1, prod: 1, stable: 1 });
    // 64 particles with ux = 0.5: gamma - 1 = sqrt(1.25) - 1 = 0.118, in the first of 4 bins over [0, 2).
    assert.deepEqual(got.counts, [64, 0, 0, 0]);
    assert.equal(got.missing, "not_found");
    assert.equal(got.pipeline, "energy");
    assert.deepEqual(got.pipelines, []);
  } finally {
    await server.stop();
  }
});

Deno.test("Python client skips a step stream's heartbeats, and gives up on one gone silent", async () => {
  if (!(await pythonHas(["numpy"], "the Python step heartbeat test"))) return;
  // The stand-in runtime is the script's own HTTP server on 127.0.0.1.
  const ran = await runPython("client_steps_heartbeat.py", []);
  ok(ran);
  assert.deepEqual(okLines(ran.stdout), [
    "ok heartbeats skipped",
    "ok silence",
  ]);
});

Deno.test("Python client fails calls a server never answers once its timeout, and a request's wait, pass", async () => {
  if (!(await pythonHas(["numpy"], "the Python client timeout test"))) return;
  // The silent server is the script's own socket on 127.0.0.1.
  const ran = await runPython("client_timeout.py", []);
  ok(ran);
  assert.deepEqual(okLines(ran.stdout), [
    "ok control",
    "ok attach waits",
    "ok body stalls",
  ]);
});
