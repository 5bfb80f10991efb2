/**
 * How a run's method is named wherever runs sit side by side (records, sheets, `analyze`, the Compare
 * screen): the method, plus "+miμ" for momentum μ, "+eotN" for an Expectation-over-Transformation run with N samples
 * and "+refineK" for its K extra steps for fragile examples. Free of
 * TF.js so hosts and the renderer can name runs without loading it.
 */
import type { AttackMethod } from './types.js';

/** Methods that take an EOT option: the iterative ones (FGSM's single step and DeepFool's geometry do not average). */
export const EOT_METHODS: readonly AttackMethod[] = ['bim', 'll', 'pgd'];

/**
 * "bim+eot16" for a run whose options hold eot: { samples: 16 }, "bim+mi1" for momentum 1 (MI-FGSM),
 * "bim+mi1+eot16" for both, "bim+eot16+refine60" with eot.refine 60; the plain method otherwise.
 */
export function methodLabel(method: string, options?: object | null): string {
  const { eot, momentum } = (options ?? {}) as { eot?: { samples?: unknown; refine?: unknown } | null; momentum?: unknown };
  const mi = typeof momentum === 'number' && momentum > 0 ? `+mi${momentum}` : '';
  if (!eot || typeof eot.samples !== 'number') return `${method}${mi}`;
  const refine = typeof eot.refine === 'number' && eot.refine > 0 ? `+refine${eot.refine}` : '';
  return `${method}${mi}+eot${eot.samples}${refine}`;
}
