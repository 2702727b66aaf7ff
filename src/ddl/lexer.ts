/**
 * Tokens of the data language.
 *
 * @module
 */

import { DescriptionError, type SourcePosition } from "../errors.ts";

/** Kinds of token the lexer produces. */
export type TokenKind = "ident" | "int" | "string" | "punct" | "newline" | "eof";

/** One token with its position in the description. */
export interface Token {
  /** What kind of token this is. */
  readonly kind: TokenKind;
  /** Its text (the unquoted value for strings). */
  readonly text: string;
  /** Where it starts. */
  readonly pos: SourcePosition;
}

const PUNCT = new Set([
  "{",
  "}",
  "[",
  "]",
  "(",
  ")",
  ",",
  "=",
  "*",
  "+",
  "-",
  "/",
  "%",
  ":",
  ";",
  ".",
]);

/**
 * Tokens after which a line break does not end a statement (DRepl's scanner
 * ends a statement at a line break only after a name, a number or a string).
 */
const CONTINUES = new Set(["{", "(", "[", ",", "=", "*", "+", "-", "/", "%", ":", "."]);

/**
 * Splits a description into tokens. Newlines and `;` separate statements and
 * are kept as `newline` tokens, except a line break after a token that cannot
 * end a statement (`{ ( [ , = + - * / % : .`), which is skipped like a space;
 * `//` and `/* *\/` comments are skipped. `read-only` is one identifier.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tokenize } from "./lexer.ts";
 * const kinds = tokenize("var x float64").map((t) => t.kind);
 * assert.ok(kinds.join(" ") === "ident ident ident eof");
 * ```
 */
export function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  const lines = source.split("\n");
  let i = 0;
  let line = 1;
  let lineStart = 0;
  const lineBreak = (pos: SourcePosition): void => {
    const last = tokens[tokens.length - 1];
    if (last !== undefined && last.kind === "punct" && CONTINUES.has(last.text)) return;
    tokens.push({ kind: "newline", text: "\n", pos });
  };
  const fail = (detail: string, at: number): never => {
    const pos = { line, col: at - lineStart + 1 };
    throw new DescriptionError(detail, pos, lines[line - 1] ?? "");
  };
  while (i < source.length) {
    const c = source[i]!;
    const pos = { line, col: i - lineStart + 1 };
    if (c === ";") {
      tokens.push({ kind: "newline", text: c, pos });
      i++;
    } else if (c === "\n") {
      lineBreak(pos);
      i++;
      line++;
      lineStart = i;
    } else if (c === " " || c === "\t" || c === "\r") {
      i++;
    } else if (c === "/" && source[i + 1] === "/") {
      while (i < source.length && source[i] !== "\n") i++;
    } else if (c === "/" && source[i + 1] === "*") {
      const end = source.indexOf("*/", i + 2);
      if (end < 0) fail("Unterminated comment: expected '*/'", i);
      for (let k = i; k < end; k++) {
        if (source[k] === "\n") {
          lineBreak({ line, col: k - lineStart + 1 });
          line++;
          lineStart = k + 1;
        }
      }
      i = end + 2;
    } else if (/[A-Za-z_]/.test(c)) {
      let j = i + 1;
      while (j < source.length && /[A-Za-z0-9_]/.test(source[j]!)) j++;
      let text = source.slice(i, j);
      if (text === "read" && source.startsWith("-only", j)) {
        text = "read-only";
        j += 5;
      }
      tokens.push({ kind: "ident", text, pos });
      i = j;
    } else if (/[0-9]/.test(c)) {
      let j = i + 1;
      while (j < source.length && /[0-9_]/.test(source[j]!)) j++;
      if (j < source.length && /[A-Za-z.]/.test(source[j]!)) {
        fail(`Invalid number: expected an integer, found '${source.slice(i, j + 1)}'`, i);
      }
      if (c === "0" && j > i + 1) {
        // DRepl's released parser reads `010` as octal 8: refused rather than read as 10.
        fail(`Invalid number: expected a decimal integer, found '${source.slice(i, j)}'`, i);
      }
      tokens.push({ kind: "int", text: source.slice(i, j).replaceAll("_", ""), pos });
      i = j;
    } else if (c === '"') {
      const end = source.indexOf('"', i + 1);
      const nl = source.indexOf("\n", i + 1);
      if (end < 0 || (nl >= 0 && nl < end)) fail("Unterminated string: expected '\"'", i);
      tokens.push({ kind: "string", text: source.slice(i + 1, end), pos });
      i = end + 1;
    } else if (PUNCT.has(c)) {
      tokens.push({ kind: "punct", text: c, pos });
      i++;
    } else {
      fail(`Unexpected character '${c}'`, i);
    }
  }
  tokens.push({ kind: "eof", text: "", pos: { line, col: i - lineStart + 1 } });
  return tokens;
}
