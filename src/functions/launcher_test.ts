import assert from "node:assert/strict";
import { DEFAULT_NICE, Launcher } from "./launcher.ts";
import { Sandbox } from "./sandbox.ts";

/** The niceness of process `pid`, from /proc (read by `sh`: Deno refuses its programs /proc). */
async function niceOf(pid: number): Promise<number> {
  const out = await new Deno.Command("sh", {
    args: ["-c", `cat /proc/${pid}/stat`],
    stdout: "piped",
    stderr: "null",
  }).output();
  const stat = new TextDecoder().decode(out.stdout);
  // Field 19 of stat(5); the fields after the command name's parenthesis start at field 3.
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[16]);
}

const SOURCE =
  "export const input = ''; export const output = 'value'; export function run() { return 1; }";

Deno.test("Sandbox processes run at the launcher's niceness, 19 unless asked", async () => {
  for (const nice of [undefined, 0, 7]) {
    const launcher = new Launcher(nice === undefined ? {} : { nice });
    if ((await launcher.isolation()).mode === "heap-only") {
      console.warn("WARNING: this test needs sh, which heap-only mode lacks: skipped");
      await launcher.close();
      return;
    }
    const sb = Sandbox.spawn(launcher, 2 ** 28);
    try {
      // Loaded: the start script has exec'd deno through nice(1).
      const loaded = await sb.request(
        { t: "load", source: SOURCE, limits: { memoryBytes: 2 ** 28, outputBytes: 1024 } },
        [],
        10_000,
      );
      assert.equal(loaded.t, "loaded");
      assert.equal(await niceOf(sb.pid!), nice ?? DEFAULT_NICE);
    } finally {
      await sb.terminate();
      await launcher.close();
    }
  }
});

Deno.test("A launcher refuses a niceness outside 0 to 19", () => {
  for (const nice of [-1, 20, 2.5]) {
    assert.throws(() => new Launcher({ nice }), /Invalid sandbox niceness/);
  }
});
