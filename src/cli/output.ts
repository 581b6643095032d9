import { writeFileSync } from 'node:fs';
import { InputError } from '../errors.js';

/**
 * JSON with no NaN, Infinity or null standing in for them: a non-finite number in a result is a
 * bug or a divergence, and must be named rather than written as null. The one legal overflow, a
 * flow time past float64 (the flow schedule's steps grow like 1/L), is written as a decimal string
 * from its logarithm, e.g. "1.3e+1234"; and log t = −∞ at step 0 (t = 0) leaves logFlowTime out.
 */
export function toJson(value: unknown): string {
  return JSON.stringify(
    value,
    function (key, v) {
      if (typeof v === 'number' && !Number.isFinite(v)) {
        if (key === 'logFlowTime' && v === -Infinity && this.flowTime === 0) return undefined;
        if (key === 'flowTime' && typeof this.logFlowTime === 'number' && Number.isFinite(this.logFlowTime)) {
          return expString(this.logFlowTime);
        }
        throw new Error(`result field "${key}" is ${v}`);
      }
      return v;
    },
    1,
  );
}

/** e^x written as a decimal mantissa and exponent. */
export function expString(x: number): string {
  const log10 = x / Math.LN10;
  let exp = Math.floor(log10);
  let mant = 10 ** (log10 - exp);
  if (mant >= 9.9995) { mant /= 10; exp += 1; }
  return `${mant.toFixed(3)}e+${exp}`;
}

/** Writes the result to --out, or to stdout with nothing else on it. */
export function emit(json: string, out: string | undefined): void {
  if (out === undefined) {
    process.stdout.write(json + '\n');
    return;
  }
  try {
    writeFileSync(out, json + '\n');
  } catch (e) {
    throw new InputError(`cannot write --out ${out}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}
