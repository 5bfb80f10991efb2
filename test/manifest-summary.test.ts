import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { MANIFEST_KEYS, manifestSummary } from '../app/models/manifest-summary.js';
import { modelManifestSchema } from '../app/models/manifest.js';
import { listBuiltinModelsQuickly } from '../app/node/builtin-models.js';
import { listBuiltinModels } from '../app/node/model-manifests.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'foolprint-manifest-summary-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const valid = {
  schemaVersion: 1, name: 'tiny', description: 'a test model', format: 'layers', inputSize: [28, 28], channels: 1,
  preprocessing: { kind: 'unit' }, channelOrder: 'RGB', outputs: 'logits', labels: ['a', 'b', 'c'], epsilons: [0.1],
};

describe('manifestSummary (the model list without zod)', () => {
  it('knows the keys the schema knows', () => {
    expect([...MANIFEST_KEYS].sort()).toEqual(Object.keys(modelManifestSchema.shape).sort());
  });

  it('never vouches for a manifest the schema refuses, and reads what the schema reads (fast-check)', () => {
    // Good and bad values for the fields it reads, any JSON for the others, and keys it does not know.
    const read = {
      schemaVersion: fc.oneof(fc.constant(1), fc.jsonValue()),
      name: fc.oneof(fc.string(), fc.jsonValue()),
      description: fc.oneof(fc.string(), fc.constant(undefined), fc.jsonValue()),
      inputSize: fc.oneof(fc.tuple(fc.integer({ min: -2, max: 300 }), fc.integer({ min: -2, max: 300 })), fc.array(fc.oneof(fc.double(), fc.integer()), { maxLength: 3 }), fc.jsonValue()),
      channels: fc.oneof(fc.constantFrom(0, 1, 2, 3, 1.5, '1'), fc.jsonValue()),
      labels: fc.oneof(fc.array(fc.string(), { maxLength: 4 }), fc.array(fc.oneof(fc.string(), fc.integer(), fc.constant(null)), { maxLength: 4 }), fc.jsonValue()),
    };
    const variant = fc.record({
      replace: fc.record(read, { requiredKeys: [] }),
      other: fc.dictionary(fc.constantFrom('format', 'preprocessing', 'channelOrder', 'outputs', 'epsilons', 'training'), fc.jsonValue(), { maxKeys: 2 }),
      drop: fc.subarray(MANIFEST_KEYS as string[]),
      extra: fc.dictionary(fc.string({ minLength: 1, maxLength: 12 }), fc.jsonValue(), { maxKeys: 2 }),
      keepOthersValid: fc.boolean(),
    });
    fc.assert(fc.property(variant, ({ replace, other, drop, extra, keepOthersValid }) => {
      const object: Record<string, unknown> = { ...valid, ...extra, ...(keepOthersValid ? {} : other), ...replace };
      for (const key of drop) delete object[key];
      // Through JSON, as a file would be read (undefined values drop out).
      const raw = JSON.parse(JSON.stringify(object)) as unknown;
      const summary = manifestSummary(raw);
      const full = modelManifestSchema.safeParse(raw);
      // With the fields it does not read valid, it may be stricter than the schema, never more lenient.
      if (summary && keepOthersValid) expect(full.success).toBe(true);
      if (summary && full.success) {
        const { name, description, inputSize, channels, labels } = full.data;
        expect(summary).toEqual({ name, ...(description !== undefined ? { description } : {}), inputSize, channels, labels });
      }
      if (summary) {
        // Whatever the other fields hold, the ones it read are the schema's to accept.
        const readOnly = modelManifestSchema.pick({ schemaVersion: true, name: true, description: true, inputSize: true, channels: true, labels: true });
        expect(readOnly.safeParse(Object.fromEntries(Object.entries(raw as object).filter(([key]) => key in readOnly.shape))).success).toBe(true);
        for (const key of Object.keys(raw as object)) expect(MANIFEST_KEYS).toContain(key);
      }
    }), { numRuns: 2000 });
  });

  it('lists the shipped models as the full check does', async () => {
    const quick = await listBuiltinModelsQuickly();
    expect(quick.map((m) => m.id)).toContain('lenet-mnist');
    expect(quick).toEqual(listBuiltinModels());
  });

  it('a manifest it cannot vouch for gets the full check and its one-line error', async () => {
    const dir = path.join(tmp, 'models');
    mkdirSync(path.join(dir, 'good'), { recursive: true });
    writeFileSync(path.join(dir, 'good', 'foolprint.json'), JSON.stringify(valid));
    expect(await listBuiltinModelsQuickly(dir)).toEqual(listBuiltinModels(dir));
    mkdirSync(path.join(dir, 'typo'));
    writeFileSync(path.join(dir, 'typo', 'foolprint.json'), JSON.stringify({ ...valid, lables: ['a', 'b'] }));
    const file = path.join(dir, 'typo', 'foolprint.json');
    await expect(listBuiltinModelsQuickly(dir)).rejects.toThrow(`${file}: unknown key "lables" (did you mean "labels"?)`);
    expect(() => listBuiltinModels(dir)).toThrow(`${file}: unknown key "lables" (did you mean "labels"?)`);
    writeFileSync(file, '{ "name": ');
    await expect(listBuiltinModelsQuickly(dir)).rejects.toThrow(`${file} is not JSON`);
  });
});
