/**
 * A printer's tone curve (channel-profile.ts): evenly spaced knots on [0,1], piecewise linear. Apart
 * from the profile's schema so the simulator, and with it `foolprint --help`, loads without zod
 * (~0.1 s of CPU at start-up, issue 12).
 */

/** Evaluates a piecewise-linear tone curve (evenly spaced knots on [0,1]) at v, clamping v to [0,1]. */
export function applyToneCurve(knots: readonly number[], v: number): number {
  const x = Math.min(1, Math.max(0, v)) * (knots.length - 1);
  const i = Math.min(knots.length - 2, Math.floor(x));
  return knots[i] + (knots[i + 1] - knots[i]) * (x - i);
}
