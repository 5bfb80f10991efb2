/**
 * The sheet-set identity code (RS(8,5) over GF(2⁷) in marker ids): every 35-bit identity round trips,
 * up to two unread markers are restored, and corrupted ids are refused or corrected, never decoded to
 * another identity while erasures + substitutions stay within the code's distance.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  IDENTITY_FIRST_MARKER_ID,
  IDENTITY_MARKER_COUNT,
  SheetIdentityError,
  decodeIdentityMarkers,
  generatorOrder,
  identityMarkerIds,
  isSheetIdentity,
  randomSheetIdentity,
} from '../app/physical/sheet-identity.js';

/** Any 35-bit identity as 9 hex digits. */
const identities = fc.tuple(fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.integer({ min: 0, max: 15 })).map(([low, high]) => (high * 2 ** 31 + low).toString(16).padStart(9, '0'));

/** What can happen to the marker of one slot: read right, not read (null or a non-identity id), or read as another identity id. */
type Fate = { kind: 'kept' } | { kind: 'erased'; as: number | null } | { kind: 'substituted'; by: number };
const fates: fc.Arbitrary<Fate> = fc.oneof(
  { arbitrary: fc.constant<Fate>({ kind: 'kept' }), weight: 6 },
  { arbitrary: fc.oneof(fc.constant(null), fc.integer({ min: 0, max: IDENTITY_FIRST_MARKER_ID - 1 })).map((as): Fate => ({ kind: 'erased', as })), weight: 1 },
  { arbitrary: fc.integer({ min: 1, max: 127 }).map((shift): Fate => ({ kind: 'substituted', by: shift })), weight: 1 },
);

function corrupt(ids: readonly number[], pattern: readonly Fate[]): (number | null)[] {
  return ids.map((id, i) => {
    const fate = pattern[i];
    if (fate.kind === 'kept') return id;
    if (fate.kind === 'erased') return fate.as;
    // Another identity id, never the right one.
    return IDENTITY_FIRST_MARKER_ID + ((id - IDENTITY_FIRST_MARKER_ID + fate.by) % 128);
  });
}

describe('sheet identity code', () => {
  it('works in GF(2⁷) with a primitive polynomial: α has order 127', () => {
    expect(generatorOrder()).toBe(127);
  });

  it('round trips every 35-bit identity through its eight marker ids', () => {
    fc.assert(
      fc.property(identities, (identity) => {
        const ids = identityMarkerIds(identity);
        expect(ids).toHaveLength(IDENTITY_MARKER_COUNT);
        expect(ids.every((id) => id >= 122 && id <= 249)).toBe(true);
        expect(decodeIdentityMarkers(ids)).toEqual({ ok: true, identity, restored: [] });
      }),
      { numRuns: 500 },
    );
    for (const identity of ['000000000', '7ffffffff', randomSheetIdentity()]) expect(decodeIdentityMarkers(identityMarkerIds(identity))).toMatchObject({ ok: true, identity });
  });

  it('restores up to two unread markers, and refuses three', () => {
    fc.assert(
      fc.property(identities, fc.uniqueArray(fc.integer({ min: 0, max: 7 }), { minLength: 0, maxLength: 3 }), (identity, lost) => {
        const ids: (number | null)[] = identityMarkerIds(identity);
        for (const slot of lost) ids[slot] = null;
        const reading = decodeIdentityMarkers(ids);
        if (lost.length <= 2) expect(reading).toEqual({ ok: true, identity, restored: [...lost].sort((a, b) => a - b) });
        else expect(reading).toMatchObject({ ok: false, reason: 'too-few', found: 5 });
      }),
      { numRuns: 500 },
    );
  });

  it('never decodes corrupted ids to another identity while erasures + substitutions ≤ 3', () => {
    fc.assert(
      fc.property(identities, fc.array(fates, { minLength: 8, maxLength: 8 }), (identity, pattern) => {
        const erased = pattern.filter((f) => f.kind === 'erased').length;
        const substituted = pattern.filter((f) => f.kind === 'substituted').length;
        fc.pre(erased + substituted <= 3);
        const reading = decodeIdentityMarkers(corrupt(identityMarkerIds(identity), pattern));
        if (reading.ok) {
          expect(reading.identity).toBe(identity);
          expect(substituted).toBe(0);
        } else {
          expect(reading.message).toMatch(/identity markers/);
          if (substituted === 0) expect(erased).toBe(3);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('refuses a single misread marker among all eight, naming the disagreement', () => {
    const ids = identityMarkerIds('1a2b3c4d5');
    ids[6] = ids[6] === 249 ? 248 : ids[6] + 1;
    expect(decodeIdentityMarkers(ids)).toMatchObject({ ok: false, reason: 'inconsistent', found: 8, message: expect.stringMatching(/do not spell one identity/) });
  });

  it('checks its inputs', () => {
    for (const bad of ['', '12345678', '1234567890', '80000000a', 'ghijklmno', '1A2B3C4D5', 42, null]) expect(isSheetIdentity(bad)).toBe(false);
    expect(() => identityMarkerIds('800000000')).toThrow(SheetIdentityError);
    expect(() => decodeIdentityMarkers([1, 2, 3])).toThrow(/expected 8 identity slots/);
    expect(isSheetIdentity(randomSheetIdentity())).toBe(true);
  });
});
