import { describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { attackFileNames, epsilonTag, parseAttackRecord } from '../app/experiments/attack-record.js';
import { amplifyPerturbation, encodePng } from '../app/node/png-encode.js';

describe('attack record', () => {
  it('names ε by pixel levels when it is a whole number of levels', () => {
    expect(epsilonTag(8 / 255)).toBe('8of255');
    expect(epsilonTag(0)).toBe('0of255');
    expect(epsilonTag(0.1)).toBe('0.1');
    expect(attackFileNames.adversarial(16 / 255, 3)).toBe('adv-16of255-3.png');
  });

  it('rejects a file that is not a record, naming the field', () => {
    expect(() => parseAttackRecord({ schemaVersion: 1, createdAt: 'x' }, 'r.json')).toThrow(/r\.json is not a Foolprint attack record: model/);
    expect(() => parseAttackRecord([], 'r.json')).toThrow(/r\.json/);
  });
});

describe('PNG encoding', () => {
  it('saves exactly round(x·255), the 8-bit view the attacks score', async () => {
    const pixels = new Float32Array([0, 0.5, 1, 0.2, -0.1, 1.3]);
    const png = await encodePng(pixels, 3, 2, 1);
    const decoded = await sharp(png).extractChannel(0).raw().toBuffer();
    expect((await sharp(png).metadata()).channels).toBe(1);
    expect([...decoded]).toEqual([0, 128, 255, 51, 0, 255]);
  });

  it('shows a perturbation at full contrast: 0 is grey, ±ε black and white', () => {
    expect([...amplifyPerturbation(new Float32Array([-0.1, 0, 0.1]), 0.1)].map((v) => Number(v.toFixed(6)) + 0)).toEqual([0, 0.5, 1]);
    // Without ε (DeepFool) the largest change sets the scale.
    expect([...amplifyPerturbation(new Float32Array([-0.02, 0.01]), 0)].map((v) => Number(v.toFixed(6)) + 0)).toEqual([0, 0.75]);
  });

  it('refuses pixels that do not match the size', async () => {
    await expect(encodePng(new Float32Array(5), 2, 2, 1)).rejects.toThrow(/5 values, expected 2x2x1/);
  });
});
