/**
 * Docs that run: the shell examples of README.md and docs/api.md, executed
 * in order against a fresh `strata serve`, so that an example that stops
 * working fails the tests.
 *
 * Each fenced block marked `sh`, `bash` or `shell` runs in its own `sh`
 * (`set -e`, `curl` failing on HTTP errors), from the repository
 * root, with `STRATA_URL` set to the server and the documented address
 * `http://127.0.0.1:7070` replaced by the server's. A block whose fence is
 * preceded by the line `<!-- illustrative -->` is skipped: commands that
 * install, start long-running processes or run the test suite itself.
 * Files the examples write into the repository root (`> FILE`, `-o FILE`) are
 * removed afterwards.
 */
import assert from "node:assert/strict";
import { connect } from "../src/client/mod.ts";
import { startServer } from "./_server.ts";

/** A shell block of a Markdown file. */
interface Block {
  /** Line of its opening fence (1-based). */
  readonly line: number;
  /** Its text. */
  readonly text: string;
  /** Marked `<!-- illustrative -->`: not run. */
  readonly illustrative: boolean;
}

const SHELLS = new Set(["sh", "bash", "shell"]);
const MARK = "<!-- illustrative -->";

/** The shell blocks of a Markdown text, in order. */
function shellBlocks(markdown: string): Block[] {
  const lines = markdown.split("\n");
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,})\s*([\w-]*)/.exec(lines[i]!);
    if (open === null) continue;
    const [, indent, fence, lang] = open as unknown as [string, string, string, string];
    const body: string[] = [];
    let j = i + 1;
    while (j < lines.length && !lines[j]!.trimStart().startsWith(fence)) {
      body.push(lines[j]!.slice(indent.length));
      j++;
    }
    let k = i - 1;
    while (k >= 0 && lines[k]!.trim() === "") k--;
    if (SHELLS.has(lang)) {
      blocks.push({
        line: i + 1,
        text: body.join("\n"),
        illustrative: k >= 0 && lines[k]!.trim() === MARK,
      });
    }
    i = j;
  }
  return blocks;
}

/** Files a block writes by redirection or `-o`, relative to the root. */
function written(text: string): string[] {
  const out = new Set<string>();
  for (const m of text.matchAll(/(?:^|\s)(?:>|-o)\s*([\w][\w./-]*)/g)) {
    if (!m[1]!.startsWith("/") && !m[1]!.startsWith("-")) out.add(m[1]!);
  }
  return [...out];
}

const PRELUDE = `set -e
curl() { command curl --fail-with-body "$@"; }
`;

async function runBlock(block: Block, url: string, doc: string): Promise<void> {
  const script = PRELUDE + block.text.replaceAll("http://127.0.0.1:7070", url);
  const child = new Deno.Command("sh", {
    args: ["-c", script],
    env: { STRATA_URL: url, NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), 180_000);
  const out = await child.output();
  clearTimeout(timer);
  const dec = new TextDecoder();
  assert.equal(
    out.code,
    0,
    `${doc}:${block.line}: the example failed (exit ${out.code}):\n${block.text}\n--- stdout\n${
      dec.decode(out.stdout).slice(-2000)
    }\n--- stderr\n${dec.decode(out.stderr).slice(-2000)}`,
  );
}

/** Runs every shell block of `doc` against a fresh server; `after` checks the server at the end. */
async function runDoc(doc: string, after?: (url: string) => Promise<void>): Promise<void> {
  const blocks = shellBlocks(await Deno.readTextFile(doc));
  const files = blocks.filter((b) => !b.illustrative).flatMap((b) => written(b.text));
  const existing = new Set<string>();
  for (const f of files) {
    try {
      await Deno.lstat(f);
      existing.add(f);
    } catch { /* written by the examples */ }
  }
  const server = await startServer();
  try {
    for (const block of blocks) {
      if (!block.illustrative) await runBlock(block, server.url, doc);
    }
    await after?.(server.url);
  } finally {
    await server.stop();
    await Deno.remove(server.dataDir, { recursive: true });
    // The examples' shell wrote them, and removes them (the tests may write only to tmp/).
    const made = files.filter((f) => !existing.has(f));
    if (made.length > 0) {
      await new Deno.Command("sh", { args: ["-c", 'rm -f -- "$@"', "sh", ...made] }).output();
    }
  }
}

Deno.test("shellBlocks() finds sh blocks in order and skips those marked illustrative", () => {
  const md = [
    "# T",
    "```sh",
    "echo one > a.txt",
    "```",
    "<!-- illustrative -->",
    "",
    "```sh",
    "deno task start",
    "```",
    "```ts",
    "const x = 1;",
    "```",
    "  ```bash",
    "  curl -o b.bin x",
    "  ```",
  ].join("\n");
  const blocks = shellBlocks(md);
  assert.deepEqual(blocks.map((b) => [b.line, b.text, b.illustrative]), [
    [2, "echo one > a.txt", false],
    [7, "deno task start", true],
    [13, "curl -o b.bin x", false],
  ]);
  assert.deepEqual(written("x > a.txt; curl -s -o b.bin u 2>/dev/null"), ["a.txt", "b.bin"]);
});

Deno.test("README.md: every shell example runs, in order, against a fresh server", async () => {
  await runDoc("README.md", async (url) => {
    // The pipeline's runs, on the versions the README's producer published after it, succeed.
    const strata = connect(url);
    let runs: { state: string }[] = [];
    for (let i = 0; i < 600; i++) {
      runs = (await strata.functions.pipeline("energy")).runs as { state: string }[];
      if (runs.length > 0 && runs.every((r) => r.state !== "running")) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(runs.length > 0, "the README's pipeline ran");
    assert.deepEqual(runs.map((r) => r.state), runs.map(() => "succeeded"));
  });
});

Deno.test("docs/api.md: every shell example runs, in order, against a fresh server", async () => {
  await runDoc("docs/api.md");
});
