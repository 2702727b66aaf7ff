import assert from "node:assert/strict";

const LOG = new URL("./log.ts", import.meta.url).href;

/** Runs `body` in a `deno` child with the process log at `info`, and answers its standard error. */
function child(body: string): Deno.ChildProcess {
  const program = `import { log } from "${LOG}";\nlog.configure({ level: "info" });\n${body}`;
  return new Deno.Command("deno", {
    args: ["eval", "--no-config", program],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
}

Deno.test("Held log lines are all written when the process ends, normally or by Deno.exit", async () => {
  for (const end of ["", "Deno.exit(3);"]) {
    const p = child(`for (let i = 0; i < 3000; i++) log.info("request", { n: i });\n${end}`);
    const out = new TextDecoder().decode((await p.output()).stderr);
    const lines = out.split("\n").filter((l) => l.includes(" INFO request "));
    assert.equal(lines.length, 3000, `ending with '${end}'`);
    assert.match(lines[2999]!, / n=2999$/);
  }
});

Deno.test("A held log line is written while the process lives on", async () => {
  // The child logs one line, then waits: the line must come without its exit.
  const p = child(`log.info("started", { port: 1 });\nsetTimeout(() => {}, 60_000);`);
  const reader = p.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<undefined>((r) => timer = setTimeout(() => r(undefined), 10_000));
  while (!text.includes("INFO started")) {
    const chunk = await Promise.race([reader.read(), deadline]);
    if (chunk === undefined || chunk.done) break;
    text += chunk.value;
  }
  clearTimeout(timer);
  p.kill("SIGKILL");
  await p.status;
  await reader.cancel();
  assert.match(text, /INFO started port=1/);
});
