/**
 * An SVG chart of a benchmark's Markdown result: its first table's figures
 * of one unit (GB/s, ops/s, ms, ...) as grouped horizontal bars, one group
 * per row, so each figure stands beside its hardware limit and its peers
 * (raw TCP, memcpy, a hand-written loop) as the table sets them.
 *
 * @module
 */

/** A table: its header cells and its rows of cells. */
interface Table {
  readonly head: readonly string[];
  readonly rows: readonly (readonly string[])[];
}

const UNITS = ["GB/s", "MB/s", "ops/s", "req/s", "versions/s", "calls/s", "ms", "µs", "us"];
const COLORS = ["#1c7ed6", "#2f9e44", "#f08c00", "#ae3ec9", "#e03131", "#0c8599", "#5c940d"];

function firstTable(markdown: string): Table | undefined {
  const lines = markdown.split("\n");
  const start = lines.findIndex((l, i) =>
    l.startsWith("|") && /^\|\s*:?-{3,}/.test(lines[i + 1] ?? "")
  );
  if (start < 0) return undefined;
  const cells = (l: string) => l.trim().replace(/^\||\|$/g, "").split("|").map((c) => c.trim());
  const rows: string[][] = [];
  for (let i = start + 2; i < lines.length && lines[i]!.startsWith("|"); i++) {
    rows.push(cells(lines[i]!));
  }
  return { head: cells(lines[start]!), rows };
}

/** The unit a column is in: named in its header, or after every number in its cells. */
function unitOf(header: string, cells: readonly string[]): string | undefined {
  const named = UNITS.find((u) => header.includes(u));
  if (named !== undefined) return /\/|\bvs\b/.test(header.replace(named, "")) ? undefined : named;
  const suffixes = new Set(
    cells.filter((c) => c !== "" && c !== "-").map((c) =>
      /^-?[\d.]+\s*(\S+)$/.exec(c.replace(/\s+/g, " "))?.[1]
    ),
  );
  const [only] = [...suffixes];
  return suffixes.size === 1 && only !== undefined && UNITS.includes(only) ? only : undefined;
}

function valueOf(cell: string): number | undefined {
  const m = /^-?\d[\d ]*(\.\d+)?/.exec(cell.replace(/(\d) (\d)/g, "$1$2"));
  return m === null ? undefined : Number(m[0].replace(/ /g, ""));
}

function esc(s: string): string {
  return s.replace(
    /[&<>"]/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!,
  );
}

/**
 * The chart of `markdown`'s first table, or undefined when it has no
 * column of figures in a unit.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { chartSvg } from "./_chart.ts";
 * const svg = chartSvg(
 *   "| size | attach GB/s | raw TCP GB/s | attach / TCP |\n| ---: | ---: | ---: | ---: |\n" +
 *     "| 1 MiB | 1.07 | 3.17 | 0.34x |\n| 64 MiB | 1.18 | 1.19 | 1.00x |\n",
 *   "transfer",
 * )!;
 * assert.match(svg, /^<svg /);
 * assert.match(svg, /attach GB\/s/);
 * assert.doesNotMatch(svg, /attach \/ TCP/);
 * assert.equal(chartSvg("no table here", "x"), undefined);
 * ```
 */
export function chartSvg(markdown: string, title: string): string | undefined {
  const table = firstTable(markdown);
  if (table === undefined || table.rows.length === 0) return undefined;
  const units = table.head.map((h, i) => unitOf(h, table.rows.map((r) => r[i] ?? "")));
  const counts = new Map<string, number>();
  for (const u of units) if (u !== undefined) counts.set(u, (counts.get(u) ?? 0) + 1);
  const unit = [...counts].sort((a, b) => b[1] - a[1])[0]?.[0];
  if (unit === undefined) return undefined;
  const series = units.flatMap((u, i) => u === unit ? [i] : []);
  // Rows are named by their columns that hold no figure of a unit.
  const labelCols = table.head.flatMap((h, i) =>
    units[i] === undefined && !/verified|bytes back|= hand|errors|goal|^ran on/i.test(h) &&
      table.rows.every((r) => !/^-?[\d.]+x/.test(r[i] ?? ""))
      ? [i]
      : []
  ).slice(0, 3);
  const rows = table.rows.map((r) => ({
    label: labelCols.map((i) => `${table.head[i]} ${r[i] ?? ""}`.trim()).join(", "),
    values: series.map((i) => valueOf(r[i] ?? "")),
  })).filter((r) => r.values.some((v) => v !== undefined));
  if (rows.length === 0) return undefined;
  const max = Math.max(...rows.flatMap((r) => r.values.map((v) => v ?? 0)), 1e-9);
  const bar = 12;
  const gap = 14;
  const labelW = 300;
  const plotW = 420;
  const top = 48 + 18 * Math.ceil(series.length / 3);
  const groupH = series.length * bar + gap;
  const height = top + rows.length * groupH + 10;
  const width = labelW + plotW + 90;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="10" y="20" font-size="15" font-weight="600">${esc(title)} (${esc(unit)})</text>`,
  ];
  series.forEach((col, k) => {
    const x = 10 + (k % 3) * 260;
    const y = 38 + 18 * Math.floor(k / 3);
    out.push(
      `<rect x="${x}" y="${y - 10}" width="12" height="12" fill="${COLORS[k % COLORS.length]}"/>`,
      `<text x="${x + 18}" y="${y}">${esc(table.head[col]!)}</text>`,
    );
  });
  rows.forEach((r, j) => {
    const y0 = top + j * groupH;
    out.push(
      `<text x="${labelW - 8}" y="${y0 + (series.length * bar) / 2 + 4}" text-anchor="end">${
        esc(r.label.length > 48 ? r.label.slice(0, 47) + "…" : r.label)
      }</text>`,
    );
    r.values.forEach((v, k) => {
      if (v === undefined) return;
      const w = Math.max(1, (v / max) * plotW);
      const y = y0 + k * bar;
      out.push(
        `<rect x="${labelW}" y="${y}" width="${w.toFixed(1)}" height="${bar - 2}" fill="${
          COLORS[k % COLORS.length]
        }"/>`,
        `<text x="${labelW + w + 4}" y="${y + bar - 3}" font-size="10" fill="#444">${v}</text>`,
      );
    });
  });
  out.push(
    `<line x1="${labelW}" y1="${top - 4}" x2="${labelW}" y2="${height - 8}" stroke="#888"/>`,
    "</svg>",
    "",
  );
  return out.join("\n");
}
