/** The address of a screen (renderer/src/route.ts): round trips, and foreign hashes are not routes. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TABS, formatRoute, parseRoute } from '../renderer/src/route.js';

describe('hash routes', () => {
  it('names a screen with and without an open experiment', () => {
    expect(formatRoute({ tab: 'attack', experimentId: null })).toBe('#/attack');
    expect(formatRoute({ tab: 'print', experimentId: '2026-12-02-alpha-1f2e' })).toBe('#/experiment/2026-12-02-alpha-1f2e/print');
    expect(parseRoute('#/experiment/2026-12-02-alpha-1f2e/print')).toEqual({ tab: 'print', experimentId: '2026-12-02-alpha-1f2e' });
    expect(parseRoute('#/compare')).toEqual({ tab: 'compare', experimentId: null });
  });

  it.each(['', '#', '#/', '#/nowhere', '#/experiment//attack', '#/experiment/x/nowhere', '#/experiment/../attack', '#/experiment/%E0%A4%A/attack', '#/experiment/a/b/attack', '#token=abc'])('%j is no route', (hash) => {
    expect(parseRoute(hash)).toBeNull();
  });

  it('property: every route survives the round trip through the address', () => {
    const id = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,40}$/);
    fc.assert(
      fc.property(fc.constantFrom(...TABS), fc.option(id, { nil: null }), (tab, experimentId) => {
        expect(parseRoute(formatRoute({ tab, experimentId }))).toEqual({ tab, experimentId });
      }),
    );
  });

  it('property: any hash parses to a known tab and a valid id, or to nothing', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), (text) => {
        const route = parseRoute(`#/${text}`);
        if (route) expect(TABS).toContain(route.tab);
      }),
    );
  });
});
