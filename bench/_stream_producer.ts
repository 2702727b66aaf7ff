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
    stdout: "null",
    stderr: "inherit",
  }).spawn();
}
