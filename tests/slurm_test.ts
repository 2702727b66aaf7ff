/**
 * Strata in a Slurm job, end to end: a single-node Slurm on 127.0.0.1
 * (munged, slurmctld and slurmd started here and stopped by pid, every port
 * on loopback) runs examples/slurm/strata.sbatch: a name server, a runtime per
 * node through srun, a producer rank and a consumer rank that find the
 * runtime through the file it wrote and share three versions through it.
 * Skipped, with a WARNING line, where Slurm or munge is not installed or the
 * daemons cannot start (they need root).
 */
import assert from "node:assert/strict";
import { freePort, freePortRange } from "./_cluster.ts";

/** Ports srun may listen on (`SrunPortRange`). */
const SRUN_PORTS = 200;

const decoder = new TextDecoder();

/** Runs a command to completion; its exit code and output. */
async function run(
  command: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; out: string }> {
  try {
    const o = await new Deno.Command(command, { args, env, stdout: "piped", stderr: "piped" })
      .output();
    return { code: o.code, out: decoder.decode(o.stdout) + decoder.decode(o.stderr) };
  } catch (e) {
    return { code: -1, out: (e as Error).message };
  }
}

/** Why a local Slurm cannot run here, or undefined. */
async function slurmMissing(): Promise<string | undefined> {
  for (const c of ["munged", "slurmctld", "slurmd", "sbatch", "squeue", "scontrol", "srun"]) {
    const r = await run(c, ["--version"]);
    if (r.code === -1) return `${c}: ${r.out}`;
  }
  const id = await run("sh", ["-c", "id -u"]);
  if (id.out.trim() !== "0") return "the Slurm daemons of this test run as root";
  return undefined;
}

const missing = await slurmMissing();
if (missing !== undefined) {
  console.warn(`WARNING: Slurm test skipped: a local Slurm cannot run here: ${missing}`);
}

/** A daemon this test started, stopped by its pid. */
function daemon(command: string, args: string[], env: Record<string, string>, log: string) {
  const child = new Deno.Command("sh", {
    // `exec` keeps the pid: the daemon is the child this test kills.
    args: ["-c", `exec "$0" "$@" > '${log}' 2>&1`, command, ...args],
    env,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  return {
    pid: child.pid,
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch { /* already gone */ }
      const timer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch { /* gone */ }
      }, 10_000);
      await child.status;
      clearTimeout(timer);
    },
  };
}

Deno.test({
  name:
    "examples/slurm/strata.sbatch: a producer rank and a consumer rank share versions through the node's runtime",
  ignore: missing !== undefined,
  sanitizeResources: false,
  fn: async () => {
    await Deno.mkdir("tmp", { recursive: true });
    const dir = await Deno.realPath(await Deno.makeTempDir({ dir: "tmp", prefix: "slurm_" }));
    const host = (await run("sh", ["-c", "hostname -s"])).out.trim();
    const cpus = Number((await run("sh", ["-c", "nproc"])).out.trim()) || 1;
    const [ctld, slurmd] = [freePort(), freePort()];
    // srun listens on ports of this range: none of them may be taken.
    // Each srun listens on several ports of the range, and a port its step closed may sit in
    // TIME_WAIT when the next step binds: 21 ports once ran out ("all ports in range ...
    // exhausted"), so the range is wide.
    const srunLo = freePortRange(SRUN_PORTS);
    const conf = `${dir}/slurm.conf`;
    await Deno.mkdir(`${dir}/state`);
    await Deno.mkdir(`${dir}/spool`);
    await Deno.writeFile(`${dir}/munge.key`, crypto.getRandomValues(new Uint8Array(1024)), {
      mode: 0o600,
    });
    // Slurm's node is 'localhost' (slurmd -N): the script resolves node names, here to 127.0.0.1.
    await Deno.writeTextFile(
      conf,
      `ClusterName=strata
SlurmctldHost=${host}(127.0.0.1)
SlurmctldPort=${ctld}
SlurmdPort=${slurmd}
SrunPortRange=${srunLo}-${srunLo + SRUN_PORTS - 1}
AuthType=auth/munge
AuthInfo=socket=${dir}/munge.sock
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SlurmUser=root
SlurmdUser=root
StateSaveLocation=${dir}/state
SlurmdSpoolDir=${dir}/spool
SlurmctldPidFile=${dir}/slurmctld.pid
SlurmdPidFile=${dir}/slurmd.pid
SlurmctldLogFile=${dir}/slurmctld.log
SlurmdLogFile=${dir}/slurmd.log
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
NodeName=localhost NodeHostname=${host} NodeAddr=127.0.0.1 CPUs=${cpus} State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
`,
    );
    const env = { SLURM_CONF: conf };
    const daemons = [
      daemon(
        "munged",
        [
          "-F",
          "--force",
          "-S",
          `${dir}/munge.sock`,
          `--key-file=${dir}/munge.key`,
          `--log-file=${dir}/munged.log`,
          `--pid-file=${dir}/munged.pid`,
          `--seed-file=${dir}/munged.seed`,
        ],
        env,
        `${dir}/munged.out`,
      ),
    ];
    try {
      await until(async () => (await exists(`${dir}/munge.sock`)), "munged's socket");
      daemons.push(daemon("slurmctld", ["-D", "-f", conf], env, `${dir}/slurmctld.out`));
      daemons.push(
        daemon("slurmd", ["-D", "-f", conf, "-N", "localhost"], env, `${dir}/slurmd.out`),
      );
      await until(
        async () =>
          / idle /.test(
            (await run("scontrol", ["show", "node", "localhost"], env)).out.replace(
              /State=IDLE/,
              " idle ",
            ),
          ),
        "the Slurm node to be idle",
      );
      const ns = freePort();
      const submit = await run("sbatch", [
        "--parsable",
        `--chdir=${Deno.cwd()}`,
        "--ntasks=2",
        `--output=${dir}/job.out`,
        `--export=ALL,STRATA_RUN_DIR=${dir}/run,STRATA_NS_PORT=${ns}`,
        "examples/slurm/strata.sbatch",
        "3",
      ], env);
      assert.equal(submit.code, 0, submit.out);
      const job = submit.out.trim().split(";")[0]!;
      await until(
        async () => (await run("squeue", ["-h", "-j", job], env)).out.trim() === "",
        `job ${job} to finish`,
        120_000,
      );
      const out = await Deno.readTextFile(`${dir}/job.out`);
      const state = await run("scontrol", ["show", "job", job], env);
      assert.match(state.out, /JobState=COMPLETED/, out);
      // The consumer rank saw the three versions the producer rank published.
      for (const v of [1, 2, 3]) {
        assert.match(
          out,
          new RegExp(`version ${v}: 100000 particles as 1200000 bytes of columns`),
          out,
        );
      }
      const url = (await Deno.readTextFile(`${dir}/run/runtime.localhost.url`)).trim();
      assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.match(out, /Strata name server listening on http:\/\/127\.0\.0\.1:/);
      // One runtime per node, whatever task count the job was given.
      assert.equal(out.match(/Strata runtime 'localhost' listening/g)?.length, 1, out);
    } finally {
      for (const d of daemons.reverse()) await d.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

async function until(test: () => Promise<boolean>, what: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await test())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
