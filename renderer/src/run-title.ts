/** How an attack run is told apart from its neighbours in a list: method, ε, image count and time. */
import type { AttackRun } from '../../app/api/attacks.js';
import { methodLabel } from '../../app/attacks/method-label.js';

/** ε in levels of 255, whole levels without decimals: "2, 8, 16/255". */
export function epsilonLevels(epsilons: readonly number[]): string {
  const levels = epsilons.map((e) => {
    const value = e * 255;
    return Math.abs(value - Math.round(value)) < 1e-6 ? String(Math.round(value)) : value.toFixed(2);
  });
  return `${levels.join(', ')}/255`;
}

/** "BIM · ε 2, 8, 16/255 · 16 images · 14:36", "BIM+EOT16 · …" for a robust-to-print run (local time; no time when the date is unreadable). */
export function runTitle(run: Pick<AttackRun, 'method' | 'epsilons' | 'count' | 'createdAt'> & { options?: AttackRun['options'] }): string {
  const time = new Date(run.createdAt);
  const when = Number.isNaN(time.getTime()) ? '' : ` · ${time.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })}`;
  return `${methodLabel(run.method, run.options).toUpperCase()} · ε ${epsilonLevels(run.epsilons)} · ${run.count} image${run.count === 1 ? '' : 's'}${when}`;
}
