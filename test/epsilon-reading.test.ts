/**
 * Issue 8 item 4: ε is read as people write it (8/255, 0.03, 8) whatever the unit select says, with a
 * hint for an ε below one grey level; each model starts with its own suggested ε list.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { epsilonField, readEpsilons, writeEpsilons } from '../renderer/src/epsilon.js';
import type { EpsilonUnit } from '../renderer/src/epsilon.js';
import { DIGIT_EPSILONS, PHOTO_EPSILONS, suggestedEpsilons } from '../app/models/manifest.js';
import { parseManifest } from '../app/node/model-loader.js';

describe('reading ε', () => {
  it.each<[string, EpsilonUnit]>([
    ['8/255', 'levels'],
    ['8/255', 'unit'],
    ['8', 'levels'],
    ['8', 'unit'],
  ])('%s with the select on %s is 8 grey levels', (text, unit) => {
    expect(readEpsilons(text, unit).values).toEqual([8 / 255]);
    expect(readEpsilons(text, unit).hints).toEqual([]);
  });

  it('a number up to 1 follows the select, and says how it was read', () => {
    expect(readEpsilons('0.03', 'unit')).toEqual({ values: [0.03], readings: [{ text: '0.03', value: 0.03, as: 'unit' }], hints: [] });
    const levels = readEpsilons('0.03', 'levels');
    expect(levels.values).toEqual([0.03 / 255]);
    expect(levels.readings[0].as).toBe('levels');
    // Below one grey level in level units: a hint, not an error.
    expect(levels.hints).toHaveLength(1);
    expect(levels.hints[0]).toMatch(/less than one grey level.*0\.03 in \[0, 1\]/);
    expect(readEpsilons('1 2', 'levels').hints).toEqual([]);
    expect(readEpsilons('0', 'levels').hints).toEqual([]);
  });

  it('mixes forms in one list, sorted and without duplicates', () => {
    expect(readEpsilons('16 8/255, 0.1;8', 'unit').values).toEqual([8 / 255, 0.1, 16 / 255].sort((a, b) => a - b));
  });

  it.each([['8/', /fraction/], ['/255', /fraction/], ['-1', /not a non-negative number/], ['1e400', /not a non-negative number/], ['0x10', /not a non-negative number/], ['300/255', /above the whole pixel range/]])('refuses %j', (text, message) => {
    expect(() => readEpsilons(text, 'levels')).toThrow(message);
  });

  it('property: any list of levels written as n, n/255 or n/255 in [0,1] reads back as the same values', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 8 }), fc.constantFrom<EpsilonUnit>('levels', 'unit'), (levels, unit) => {
        const expected = [...new Set(levels.map((l) => l / 255))].sort((a, b) => a - b);
        expect(readEpsilons(levels.map((l) => `${l}/255`).join(' '), unit).values).toEqual(expected);
        // Whole levels above 1 are levels whatever the select; 0 and 1 follow it.
        const bare = readEpsilons(levels.join(', '), unit).values;
        if (unit === 'levels' || levels.every((l) => l > 1)) expect(bare).toEqual(expected);
      }),
    );
  });

  it('property: any text either reads as values in [0,1] or throws a one-line message', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 30 }), fc.constantFrom<EpsilonUnit>('levels', 'unit'), (text, unit) => {
        try {
          const read = readEpsilons(text, unit);
          for (const v of read.values) expect(v >= 0 && v <= 1).toBe(true);
        } catch (error) {
          expect((error as Error).name).toBe('EpsilonParseError');
          expect((error as Error).message).not.toContain('\n');
        }
      }),
    );
  });
});

describe('default ε per model', () => {
  const base = { schemaVersion: 1, name: 'm', inputSize: [28, 28], channels: 1, labels: ['a', 'b'] };

  it('MNIST-like models start at 0.1 0.2 0.3 in [0,1]; colour photos at 2 4 8 16 levels', () => {
    expect(suggestedEpsilons({ inputSize: [28, 28], channels: 1 })).toEqual(DIGIT_EPSILONS);
    expect(suggestedEpsilons({ inputSize: [224, 224], channels: 3 })).toEqual(PHOTO_EPSILONS);
    expect(epsilonField(DIGIT_EPSILONS)).toEqual({ text: '0.1 0.2 0.3', unit: 'unit' });
    expect(epsilonField(PHOTO_EPSILONS)).toEqual({ text: '2 4 8 16', unit: 'levels' });
    // Written for the other unit they read back the same.
    expect(writeEpsilons(DIGIT_EPSILONS, 'levels')).toBe('25.5 51 76.5');
    expect(readEpsilons(writeEpsilons(DIGIT_EPSILONS, 'levels'), 'levels').values.map((v) => Number(v.toFixed(12)))).toEqual([0.1, 0.2, 0.3]);
  });

  it("the manifest's own list wins, and the built-in model's says 0.1 0.2 0.3", async () => {
    const manifest = parseManifest(JSON.stringify({ ...base, epsilons: [0.05, 0.15] }), 'foolprint.json');
    expect(suggestedEpsilons(manifest)).toEqual([0.05, 0.15]);
    const { readFile } = await import('node:fs/promises');
    const builtin = parseManifest(await readFile('assets/models/lenet-mnist/foolprint.json', 'utf8'), 'foolprint.json');
    expect(builtin.epsilons).toEqual([0.1, 0.2, 0.3]);
  });

  it('property: a manifest parses with an ε list exactly when it has 1-64 values in [0,1]', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: -2, max: 2, noNaN: true }), { maxLength: 70 }), (epsilons) => {
        const valid = epsilons.length >= 1 && epsilons.length <= 64 && epsilons.every((e) => e >= 0 && e <= 1);
        const parse = () => parseManifest(JSON.stringify({ ...base, epsilons }), 'foolprint.json');
        if (valid) expect(suggestedEpsilons(parse())).toEqual(epsilons.map((e) => (Object.is(e, -0) ? 0 : e)));
        else expect(parse).toThrow(/foolprint\.json: .*epsilons/);
      }),
    );
  });
});
