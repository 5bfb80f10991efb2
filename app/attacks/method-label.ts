/**
 * How a run's method is named wherever runs sit side by side (records, sheets, `analyze`, the Compare
 * screen): the method, plus "+eotN" for an Expectation-over-Transformation run with N samples. Free of
 * TF.js so hosts and the renderer can name runs without loading it.
 */
import type { AttackMethod } from './types.js';

/** Methods that take an EOT option: the iterative ones (FGSM's single step and DeepFool's geometry do not average). */
export const EOT_METHODS: readonly AttackMethod[] = ['bim', 'll', 'pgd'];

/** "bim+eot16" for a run whose options hold eot: { samples: 16 }; the plain method otherwise. */
export function methodLabel(method: string, options?: object | null): string {
  const eot = (options as { eot?: { samples?: unknown } | null } | null | undefined)?.eot;
  return eot && typeof eot.samples === 'number' ? `${method}+eot${eot.samples}` : method;
}
