/**
 * What the streaming benchmarks share: the particle field they stream and
 * the producer process that publishes it (bench/_producer.ts).
 *
 * @module
 */

/** The streamed dataset: `n` particles as an array of structs, and its `soa` fragment. */
export const fieldDescription = (n: number): string =>
  `dataset field {
  type P struct { x, y, z, energy float64 }
  var p [${n}]P
}
fragment soa columnar { var p { x, y, z, energy } = p }`;

/**
 * Starts the producer process: it publishes `steps` versions of `n`
 * particles into `dataset` at the name server `url`, at most `ahead`
 * versions ahead of the acknowledgements written to its standard input.
 * With `url` `host`, the producer holds the registry itself, creates
 * `dataset`, and writes the URL of its name server API as its first line
 * (`hostedUrl`).
 */
export function spawnProducer(
  url: string,
  dataset: string,
  n: number,
  steps: number,
  ahead = 2,
): Deno.ChildProcess {
  return new Deno.Command("deno", {
    args: [
      "run",
      "--allow-net=127.0.0.1",
      "--allow-read=tmp",
      "--allow-write=tmp",
      "bench/_producer.ts",
      url,
      dataset,
      String(n),
      String(steps),
      String(ahead),
    ],
    stdin: "piped",
    stdout: url === "host" ? "piped" : "null",
    stderr: "inherit",
  }).spawn();
}

/** The name server URL a producer holding the registry (`spawnProducer("host", ...)`) writes first. */
export async function hostedUrl(producer: Deno.ChildProcess): Promise<string> {
  const lines = producer.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await lines.read();
    if (done) throw new Error(`The producer ended before it served its registry: ${text}`);
    text += value;
  }
  // The rest of its output is not needed.
  void (async () => {
    while (!(await lines.read()).done) { /* drained */ }
  })();
  return text.slice(0, text.indexOf("\n")).trim();
}
