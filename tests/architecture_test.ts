/**
 * Layers point one way: every import of a file under `src/` stays in its
 * folder or goes down the table of levels in docs/architecture.md. The
 * imports are the module graph `deno info` resolves (code and type imports;
 * doc examples and strings are not imports).
 */
import assert from "node:assert/strict";

/** A folder (`src/tiers/`) or root file (`src/errors.ts`) and its level. */
interface Layer {
  readonly unit: string;
  readonly level: number;
}

/** One import of a file under `src/`. */
interface Import {
  /** The importing file, relative to the repository root. */
  readonly from: string;
  /** The imported file, relative to the repository root. */
  readonly to: string;
  /** Line of the import (1-based). */
  readonly line: number;
}

/** The rows of the table under `## Layers`. */
function layersOf(markdown: string): Layer[] {
  const start = `\n${markdown}`.indexOf("\n## Layers\n");
  assert.ok(start >= 0, "docs/architecture.md has no '## Layers' section");
  const end = markdown.indexOf("\n## ", start + 2);
  const layers: Layer[] = [];
  for (const line of markdown.slice(start, end < 0 ? undefined : end).split("\n")) {
    const row = /^\|\s*(\d+)\s*\|([^|]*)\|/.exec(line);
    if (row === null) continue;
    for (const [, unit] of row[2]!.matchAll(/`([^`]+)`/g)) {
      layers.push({ unit: unit!, level: Number(row[1]) });
    }
  }
  return layers;
}

/**
 * The folder or root file of the table `path` belongs to. A root file's
 * folder of the same name (`src/errors/` beside `src/errors.ts`) is part of it.
 */
function unitOf(path: string, layers: readonly Layer[]): Layer | undefined {
  return layers.find((l) =>
    l.unit.endsWith("/")
      ? path.startsWith(l.unit)
      : path === l.unit || path.startsWith(l.unit.replace(/\.ts$/, "/"))
  );
}

/** Every TypeScript file under `dir`, relative to the repository root. */
async function filesUnder(dir: string): Promise<string[]> {
  const files: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) files.push(...await filesUnder(path));
    else if (/\.tsx?$/.test(entry.name)) files.push(path);
  }
  return files.sort();
}

/** The local imports of `files`, from the module graph `deno info` resolves. */
async function importsOf(files: readonly string[]): Promise<Import[]> {
  await Deno.mkdir("tmp", { recursive: true });
  const root = await Deno.makeTempFile({ dir: "tmp", prefix: "architecture_", suffix: ".ts" });
  try {
    await Deno.writeTextFile(root, files.map((f) => `import "../${f}";\n`).join(""));
    const out = await new Deno.Command("deno", { args: ["info", "--json", root], stdout: "piped" })
      .output();
    assert.ok(out.success, `deno info failed on ${root}`);
    const graph = JSON.parse(new TextDecoder().decode(out.stdout)) as {
      modules: {
        specifier: string;
        dependencies?: {
          code?: { specifier: string; span: { start: { line: number } } };
          type?: { specifier: string; span: { start: { line: number } } };
        }[];
      }[];
    };
    const base = new URL(`file://${Deno.cwd()}/`).href;
    const local = (specifier: string) =>
      specifier.startsWith(base) ? specifier.slice(base.length) : undefined;
    const imports: Import[] = [];
    for (const module of graph.modules) {
      const from = local(module.specifier);
      if (from === undefined || !from.startsWith("src/")) continue;
      for (const dependency of module.dependencies ?? []) {
        for (const resolved of [dependency.code, dependency.type]) {
          const to = resolved === undefined ? undefined : local(resolved.specifier);
          if (to !== undefined) imports.push({ from, to, line: resolved!.span.start.line + 1 });
        }
      }
    }
    return imports;
  } finally {
    await Deno.remove(root);
  }
}

/** Test files and their helpers: `x_test.ts`, `_test_cluster.ts`, `_testing.ts`. */
function isTest(path: string): boolean {
  const name = path.slice(path.lastIndexOf("/") + 1);
  return name.endsWith("_test.ts") || name.startsWith("_test");
}

/** Why `i` points the wrong way, or undefined when it may be made. */
function violation(i: Import, layers: readonly Layer[]): string | undefined {
  const from = unitOf(i.from, layers)!;
  const to = unitOf(i.to, layers);
  if (to?.unit === from.unit) return undefined;
  if (to === undefined) {
    if (i.to.startsWith("placements/") && (from.level === 10 || isTest(i.from))) return undefined;
    if (i.to === "tests/_fixtures.ts" && isTest(i.from)) return undefined;
    return `imports ${i.to}, outside the layers`;
  }
  if (to.level < from.level) return undefined;
  if (to.level === from.level && isTest(i.from)) return undefined;
  return `(level ${from.level}) imports ${i.to} (level ${to.level})`;
}

Deno.test("every folder and root file under src/ has a level in docs/architecture.md", async () => {
  const layers = layersOf(await Deno.readTextFile("docs/architecture.md"));
  const missing = (await filesUnder("src")).filter((f) => unitOf(f, layers) === undefined);
  assert.deepEqual(missing, []);
});

Deno.test("no file under src/ imports its own level or above", async () => {
  const layers = layersOf(await Deno.readTextFile("docs/architecture.md"));
  const files = (await filesUnder("src")).filter((f) => unitOf(f, layers) !== undefined);
  const imports = await importsOf(files);
  assert.ok(imports.length > files.length, `only ${imports.length} imports found`);
  const wrong = imports.flatMap((i) => {
    const why = violation(i, layers);
    return why === undefined ? [] : [`${i.from}:${i.line} ${why}`];
  });
  assert.deepEqual(wrong, []);
});

Deno.test("the layer check catches an import that points up", () => {
  const layers = layersOf(
    "## Layers\n\n| level | folders |\n| - | - |\n| 1 | `src/transform/` |\n| 2 | `src/ddl/` |\n",
  );
  assert.equal(
    violation({ from: "src/transform/plan.ts", to: "src/ddl/mod.ts", line: 3 }, layers),
    "(level 1) imports src/ddl/mod.ts (level 2)",
  );
  assert.equal(
    violation({ from: "src/ddl/layout.ts", to: "src/transform/layout.ts", line: 3 }, layers),
    undefined,
  );
  const rooted = layersOf("## Layers\n\n| level | folders |\n| - | - |\n| 0 | `src/errors.ts` |\n");
  assert.equal(
    violation({ from: "src/errors.ts", to: "src/errors/base.ts", line: 3 }, rooted),
    undefined,
  );
  assert.equal(
    violation({ from: "src/ddl/layout.ts", to: "placements/mod.ts", line: 3 }, layers),
    "imports placements/mod.ts, outside the layers",
  );
});
