/**
 * Checks of function and alias names.
 *
 * @module
 */

import { InvalidRequestError } from "../errors.ts";
import { NAME_PATTERN } from "../registry/validate.ts";

export function checkFunctionName(name: string): void {
  if (!NAME_PATTERN.test(name)) {
    throw new InvalidRequestError(
      `Invalid function name '${
        name.slice(0, 140)
      }': expected a letter then up to 127 letters, digits, '_', '.' or '-'`,
    );
  }
}

export function checkAlias(alias: unknown): asserts alias is string {
  if (typeof alias !== "string" || !NAME_PATTERN.test(alias) || /^[0-9]/.test(alias)) {
    throw new InvalidRequestError(
      `Invalid alias '${
        String(alias).slice(0, 140)
      }': expected a letter then letters, digits, '_', '.' or '-'`,
    );
  }
}
