/**
 * What checkAttackParams needs of the API contract, in one module so `npm run build` can bundle it
 * into one file with the part of zod it uses (scripts/bundle-workers.ts, attack-contract.bundle.mjs):
 * loaded from the ~60 ES modules of zod and the contract it took ~120 ms of the main thread's CPU
 * while the workers boot, bundled ~35 ms (issue 12, start-up).
 */
export { attackParamsSchema } from '../../app/api/attacks.js';
export { describeInvalidInput } from '../../app/api/invalid-input.js';
