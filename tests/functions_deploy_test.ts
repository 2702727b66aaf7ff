import assert from "node:assert/strict";
import {
  ConflictError,
  FunctionFailedError,
  InvalidFunctionError,
  InvalidRequestError,
  NotFoundError,
} from "../src/errors.ts";
import { withFunctions } from "./_functions.ts";

/** A function returning `x[0] * factor`, its factor in the source so versions differ. */
function scale(factor: number): string {
  return `import type { FunctionContext } from "strata/function";
export const input = "dataset { var x [4]float64 }\\nfragment all { var x = x }";
export const output = "value";
export function run(input: { x: Float64Array }, _ctx: FunctionContext): number {
  return input.x[0]! * ${factor};
}
`;
}

async function tiny(
  h: {
    registry: import("../src/registry/registry.ts").Registry;
    runtime: import("../src/runtime/runtime.ts").Runtime;
  },
) {
  await h.registry.createDataset({
    name: "tiny",
    description: "dataset tiny { var x [4]float64 }",
  });
  await h.runtime.publish({
    dataset: "tiny",
    version: 1,
    fragment: "dataset",
    bindings: {},
    bytes: new Uint8Array(new Float64Array([2, 0, 0, 0]).buffer),
  });
}

Deno.test("deploy() stores immutable versions with digests; aliases move and roll back", async () => {
  await withFunctions(async (h) => {
    await tiny(h);
    const v1 = await h.functions.deploy("scale", scale(10), { aliases: ["prod"] });
    const v2 = await h.functions.deploy("scale", scale(100));
    assert.deepEqual([v1.version, v1.created, v2.version, v2.created], [1, true, 2, true]);
    assert.match(v1.digest, /^sha256:[0-9a-f]{64}$/);
    assert.notEqual(v1.digest, v2.digest);
    // The same source again is the same version: deploys are idempotent.
    const again = await h.functions.deploy("scale", scale(100));
    assert.deepEqual([again.version, again.created], [2, false]);
    const call = async (use: string | number) =>
      (await h.functions.invoke("scale", { dataset: "tiny", use })).json;
    assert.equal(await call("latest"), "200");
    assert.equal(await call("prod"), "20");
    await h.functions.setAlias("scale", "prod", 2);
    assert.equal(await call("prod"), "200");
    // Rollback: move prod back to version 1.
    await h.functions.setAlias("scale", "prod", 1);
    assert.equal(await call("prod"), "20");
    assert.equal(await call(2), "200");
    const d = await h.functions.describe("scale");
    assert.deepEqual(d.aliases, { latest: 2, prod: 1 });
    assert.deepEqual(d.versions.map((v) => [v.version, v.digest]), [[1, v1.digest], [
      2,
      v2.digest,
    ]]);
    assert.equal((await h.functions.version("scale", 1)).source, scale(10));
    assert.deepEqual(await h.functions.list(), [{ name: "scale", latest: 2, aliases: d.aliases }]);
  });
});

Deno.test("setAlias(), deleteVersion() and deleteFunction() refuse what would leave names dangling", async () => {
  await withFunctions(async (h) => {
    await tiny(h);
    await h.functions.deploy("scale", scale(1), { aliases: ["prod"] });
    await h.functions.deploy("scale", scale(2));
    await h.functions.deploy("scale", scale(3));
    await assert.rejects(h.functions.setAlias("scale", "prod", 9), (e) => {
      assert.ok(e instanceof NotFoundError);
      assert.equal(e.message, "Function 'scale' has no version 9");
      return true;
    });
    await assert.rejects(h.functions.setAlias("scale", "9lives", 1), InvalidRequestError);
    await assert.rejects(h.functions.deleteVersion("scale", 1), (e) => {
      assert.ok(e instanceof ConflictError);
      assert.equal(
        e.message,
        "Version 1 of 'scale' is what 'prod' point at: move the alias first, or delete the function",
      );
      return true;
    });
    await h.functions.deleteVersion("scale", 2);
    await assert.rejects(h.functions.invoke("scale", { dataset: "tiny", use: 2 }), NotFoundError);
    await assert.rejects(h.functions.deleteAlias("scale", "latest"), InvalidRequestError);
    await h.functions.deleteAlias("scale", "prod");
    await assert.rejects(
      h.functions.invoke("scale", { dataset: "tiny", use: "prod" }),
      /Function 'scale' has no alias 'prod'/,
    );
    await h.pipelines.put("p", { source: "tiny", function: "scale" });
    await assert.rejects(
      h.functions.deleteFunction("scale"),
      /Function 'scale' is used by pipeline 'p': delete the pipeline first/,
    );
    await h.pipelines.delete("p");
    await h.functions.deleteFunction("scale");
    await assert.rejects(h.functions.describe("scale"), /Unknown function 'scale'/);
    // Nothing of it is left in the store: versions, aliases, sources.
    for (
      const prefix of [["functions"], ["function_versions"], ["function_aliases"], [
        "function_sources",
      ]]
    ) {
      const left = await Array.fromAsync(h.registry.kv.list({ prefix }));
      assert.deepEqual(left, [], `nothing under ${prefix}`);
    }
  });
});

Deno.test("deploy() refuses a function whose dry run fails, and stores nothing", async (t) => {
  await withFunctions(async (h) => {
    const refuse = async (name: string, source: string, message: string | RegExp) => {
      await assert.rejects(h.functions.deploy(name, source), (e) => {
        assert.ok(e instanceof InvalidFunctionError, String(e));
        if (typeof message === "string") assert.equal(e.message, message);
        else assert.match(e.message, message);
        return true;
      });
      await assert.rejects(h.functions.describe(name), NotFoundError);
    };
    const base = scale(1);
    await t.step("run throws on the sample", async () => {
      await refuse(
        "thrower",
        base.replace("return input.x[0]! * 1;", 'throw new RangeError("No sample for me");'),
        "Cannot deploy function 'thrower': dry-run failed: the sample run failed: RangeError: No sample for me",
      );
    });
    await t.step("run hangs on the sample", async () => {
      await assert.rejects(
        h.functions.deploy("hang", base.replace("return input.x[0]! * 1;", "for (;;) {}"), {
          limits: { timeMs: 200 },
        }),
        /^InvalidFunctionError: Cannot deploy function 'hang': dry-run failed: the sample run exceeded its time limit: ran past its limit of 200 ms/,
      );
    });
    await t.step("merge throws", async () => {
      await refuse(
        "badmerge",
        base + 'export function merge(): number { throw new Error("Cannot merge"); }\n',
        "Cannot deploy function 'badmerge': dry-run failed: the sample run failed: Error: Cannot merge",
      );
    });
    await t.step("a dataset output of the wrong type", async () => {
      const source =
        `export const input = "dataset { var x [4]float64 }\\nfragment all { var x = x }";
export const output = { description: "dataset { var y [4]float32 }" };
export function run(input: { x: Float64Array }) { return { y: input.x }; }`;
      await refuse(
        "wrongtype",
        source,
        "Cannot deploy function 'wrongtype': dry-run failed: the sample run failed: run() returned Output field 'y': expected a Float32Array, found a Float64Array",
      );
    });
    await t.step("no run", async () => {
      await refuse(
        "norun",
        'export const input = "dataset { var x [4]float64 }\\nfragment all { var x = x }"; export const output = "value";',
        "Cannot deploy function 'norun': declaration failed: expected an exported function 'run', found undefined",
      );
    });
    await t.step("an input that does not compile", async () => {
      await refuse(
        "badinput",
        base.replace("var x [4]float64", "var x [4]flaot64"),
        /^Cannot deploy function 'badinput': declaration failed: 'input' does not compile: 1:\d+: Unknown type 'flaot64'/,
      );
    });
    await t.step("an input of interleaved struct fields", async () => {
      await refuse(
        "aos",
        base.replace(
          '"dataset { var x [4]float64 }\\nfragment all { var x = x }"',
          '"dataset { var p [4]struct { a, b float64 } }\\nfragment all { var p = p }"',
        ),
        "Cannot deploy function 'aos': declaration failed: Field 'p.a' is interleaved with other fields: declare the fragment columnar so each field is one array",
      );
    });
    await t.step("parameters without sample values", async () => {
      await refuse(
        "nosample",
        base.replace("fragment all { var x = x }", "fragment part(lo, hi) { var x = x[lo:hi] }"),
        "Cannot deploy function 'nosample': declaration failed: the input fragment 'part' takes parameters lo, hi: export 'sample' with a value for each, for the dry run",
      );
    });
    await t.step("a sample past half the memory limit, refused before it is made", async () => {
      const source =
        `export const input = "dataset { var n int64; var x [n]float64 }\\nfragment all { var x = x }";
export const output = "value";
export const sample = { n: ${2 ** 40} };
export function run(input: { x: Float64Array }): number { return input.x.length; }`;
      await refuse(
        "huge",
        source,
        "Cannot deploy function 'huge': dry-run failed: the sample input takes 8796093022208 bytes, over half the memory limit (134217728): export a smaller 'sample', or raise limits.memoryBytes",
      );
    });
    await t.step("a module that throws while loading", async () => {
      await refuse(
        "loadfail",
        'throw new Error("Not today");\n' + base,
        "Cannot deploy function 'loadfail': dry-run failed: the module does not load: Error: Not today",
      );
    });
    await t.step("limits past their ceilings", async () => {
      await assert.rejects(
        h.functions.deploy("big", base, { limits: { memoryBytes: 4 * 2 ** 30 } }),
        (e) => {
          assert.ok(e instanceof InvalidRequestError);
          assert.equal(
            e.message,
            "Invalid limit memoryBytes 4294967296: expected an integer from 1 to 2147483648",
          );
          return true;
        },
      );
    });
  });
});

Deno.test("deploy() type-checks the module with deno check and refuses what does not check", async () => {
  await withFunctions(async (h) => {
    await tiny(h);
    const ok = await h.functions.deploy("scale", scale(3));
    assert.equal(ok.typeCheck, "deno check");
    const source = scale(3).replace(
      "return input.x[0]! * 3;",
      'const n: number = "three";\n  return n;',
    );
    await assert.rejects(h.functions.deploy("typo", source), (e) => {
      assert.ok(e instanceof InvalidFunctionError);
      assert.equal(e.stage, "type-check");
      assert.ok(
        e.message.startsWith("Cannot deploy function 'typo': type-check failed: TS2322"),
        e.message,
      );
      assert.ok(e.message.includes("Type 'string' is not assignable to type 'number'"), e.message);
      assert.ok(e.message.includes("at function.ts:5:9"), e.message);
      return true;
    });
    // Exports of the wrong type are caught against FunctionModule.
    await assert.rejects(
      h.functions.deploy(
        "badexport",
        scale(3).replace('export const output = "value";', "export const output = 3;"),
      ),
      /type-check failed: TS2322[\s\S]*Types of property 'output' are incompatible/,
    );
    assert.equal((await h.functions.invoke("scale", { dataset: "tiny" })).json, "6");
  }, { typeCheck: true });
});

Deno.test("invoke() names what is wrong with the dataset, region or result", async () => {
  await withFunctions(async (h) => {
    await tiny(h);
    await h.registry.createDataset({
      name: "other",
      description: "dataset other { var y [4]float64 }",
    });
    await h.functions.deploy("scale", scale(1));
    await assert.rejects(
      h.functions.invoke("scale", { dataset: "other" }),
      /^LayoutError: Function 'scale' cannot read dataset 'other': Unknown variable 'x': the dataset has no such variable$/,
    );
    await assert.rejects(
      h.functions.invoke("scale", { dataset: "nope" }),
      /Unknown dataset 'nope'/,
    );
    await assert.rejects(
      h.functions.invoke("scale", { dataset: "tiny", version: 7 }),
      /Version 7 of 'tiny' does not exist/,
    );
    await assert.rejects(
      h.functions.invoke("scale", { dataset: "tiny", params: { lo: 1 } }),
      /Fragment 'all' has no parameter 'lo'/,
    );
    await h.functions.deploy(
      "nomerge",
      scale(1).replace("fragment all { var x = x }", "fragment part(lo, hi) { var x = x[lo:hi] }") +
        "export const sample = { lo: 0, hi: 2 };\n",
    );
    await h.registry.createDataset({
      name: "halves",
      description:
        "dataset halves { var x [4]float64 }\nfragment part(lo, hi) { var x = x[lo:hi] }",
    });
    for (const lo of [0, 2]) {
      await h.runtime.publish({
        dataset: "halves",
        version: 1,
        fragment: "part",
        bindings: { lo, hi: lo + 2 },
        bytes: new Uint8Array(16),
      });
    }
    await assert.rejects(h.functions.invoke("nomerge", { dataset: "halves", each: true }), (e) => {
      assert.ok(e instanceof FunctionFailedError);
      assert.equal(
        e.message,
        "Function 'nomerge' version 1 failed: 2 fragments gave 2 results, and it exports no merge to combine them",
      );
      return true;
    });
    assert.equal(
      (await h.functions.invoke("nomerge", { dataset: "halves", params: { lo: 2, hi: 4 } })).json,
      "0",
    );
  });
});

Deno.test("invoke() reads a dataset's description again once the dataset was created again", async () => {
  await withFunctions(async (h) => {
    await tiny(h);
    await h.functions.deploy("scale", scale(10));
    assert.equal((await h.functions.invoke("scale", { dataset: "tiny" })).json, "20");
    // Deleted and created again with a shorter array: the description the
    // service kept no longer fits (its layout asks for 4 elements of 2).
    const recreate = async (description: string, bytes: Uint8Array) => {
      await h.runtime.free(await h.registry.deleteDataset("tiny"));
      await h.registry.createDataset({ name: "tiny", description });
      await h.runtime.publish({
        dataset: "tiny",
        version: 1,
        fragment: "dataset",
        bindings: {},
        bytes,
      });
    };
    await recreate(
      "dataset tiny { var x [2]float64 }",
      new Uint8Array(new Float64Array([5, 6]).buffer),
    );
    assert.equal((await h.functions.invoke("scale", { dataset: "tiny" })).json, "50");
    // Created again with other types around the same variable: read as declared.
    await recreate(
      "dataset tiny { var w [2]int32; var x [4]float32 }",
      new Uint8Array([
        ...new Uint8Array(new Int32Array([7, 7]).buffer),
        ...new Uint8Array(new Float32Array([3, 0, 0, 0]).buffer),
      ]),
    );
    assert.equal((await h.functions.invoke("scale", { dataset: "tiny" })).json, "30");
    // First without the variable the function reads, then with it.
    await recreate("dataset tiny { var y [4]float64 }", new Uint8Array(32));
    await assert.rejects(
      h.functions.invoke("scale", { dataset: "tiny" }),
      /LayoutError: Function 'scale' cannot read dataset 'tiny'/,
    );
    await recreate(
      "dataset tiny { var x [1]float64 }",
      new Uint8Array(new Float64Array([4]).buffer),
    );
    assert.equal((await h.functions.invoke("scale", { dataset: "tiny" })).json, "40");
  });
});
