/**
 * The address of a screen: `#/attack` with no experiment open, `#/experiment/<id>/attack` with one. A
 * hash route works in both hosts (Electron's app:// page and browser mode's one HTML file) without the
 * host knowing any route, and Back/Forward and reload keep the screen and the experiment.
 */
import { idSchema } from '../../app/api/common.js';

export const TABS = ['experiments', 'models', 'attack', 'print', 'capture', 'compare', 'defenses'] as const;
export type Tab = (typeof TABS)[number];

export interface Route {
  tab: Tab;
  experimentId: string | null;
}

const isTab = (value: string): value is Tab => (TABS as readonly string[]).includes(value);

/** The route a location hash names, or null for an empty or foreign hash. */
export function parseRoute(hash: string): Route | null {
  const parts = hash.replace(/^#\/?/, '').split('/').filter((p) => p.length > 0);
  if (parts.length === 1 && isTab(parts[0])) return { tab: parts[0], experimentId: null };
  if (parts.length === 3 && parts[0] === 'experiment' && isTab(parts[2])) {
    let id: string;
    try {
      id = decodeURIComponent(parts[1]);
    } catch {
      return null;
    }
    return idSchema.safeParse(id).success ? { tab: parts[2], experimentId: id } : null;
  }
  return null;
}

export function formatRoute(route: Route): string {
  return route.experimentId === null ? `#/${route.tab}` : `#/experiment/${encodeURIComponent(route.experimentId)}/${route.tab}`;
}
