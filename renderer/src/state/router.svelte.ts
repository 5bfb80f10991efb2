/**
 * Keeps the address and the session in step: every screen change (a tab, Open, Create) adds a history
 * entry `#/experiment/<id>/<tab>`, Back/Forward and a typed address show that screen and experiment,
 * and a reload lands where it was. An address without a route (a fresh start) reopens the experiment
 * that was open last, remembered in the page's localStorage.
 */
import { formatRoute, parseRoute } from '../route.js';
import type { Route } from '../route.js';
import type { Session } from './session.svelte.js';

const LAST_EXPERIMENT_KEY = 'foolprint.lastExperiment';

/** The parts of `window` the router uses (a test can hand in its own). */
export interface RouterWindow {
  location: { hash: string };
  history: { pushState(data: unknown, unused: string, url: string): void; replaceState(data: unknown, unused: string, url: string): void };
  localStorage?: Pick<Storage, 'getItem' | 'setItem'>;
  addEventListener(type: 'hashchange', listener: () => void): void;
  removeEventListener(type: 'hashchange', listener: () => void): void;
}

export class Router {
  constructor(
    private readonly session: Session,
    private readonly window: RouterWindow,
  ) {}

  private storage(): Pick<Storage, 'getItem' | 'setItem'> | null {
    try {
      return this.window.localStorage ?? null;
    } catch {
      // A sandboxed page may refuse storage: the address alone then carries the route.
      return null;
    }
  }

  /** The route to start on: the address's, else the last open experiment's Attack screen. */
  initialRoute(): Route | null {
    const fromAddress = parseRoute(this.window.location.hash);
    if (fromAddress) return fromAddress;
    const last = this.storage()?.getItem(LAST_EXPERIMENT_KEY) ?? null;
    return last ? parseRoute(formatRoute({ tab: 'attack', experimentId: last })) : null;
  }

  /** Applies the initial route and follows both directions until the returned function is called. */
  start(): () => void {
    const initial = this.initialRoute();
    if (initial) this.session.go(initial);
    this.window.history.replaceState(null, '', this.current());
    const onHashChange = (): void => {
      const route = parseRoute(this.window.location.hash);
      if (route) this.session.go(route);
      else this.window.history.replaceState(null, '', this.current());
    };
    this.window.addEventListener('hashchange', onHashChange);
    const stopEffect = $effect.root(() => {
      $effect(() => {
        const hash = this.current();
        const experimentId = this.session.experimentId;
        // pushState fires no hashchange: the session already shows this route.
        if (this.window.location.hash !== hash) this.window.history.pushState(null, '', hash);
        if (experimentId !== null) this.storage()?.setItem(LAST_EXPERIMENT_KEY, experimentId);
      });
    });
    return () => {
      stopEffect();
      this.window.removeEventListener('hashchange', onHashChange);
    };
  }

  private current(): string {
    return formatRoute({ tab: this.session.tab, experimentId: this.session.experimentId });
  }
}
