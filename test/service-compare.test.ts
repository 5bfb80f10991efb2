import { describe, expect, it } from 'vitest';
import { compareCells, compareCsv, compareHtml, compareRates } from '../app/node/service-compare.js';
import { destructionRate } from '../app/physical/metrics.js';
import type { StoredCapture } from '../app/node/service-compare.js';
import type { PhotoAnalysis } from '../app/physical/analyze.js';

const top = (...labels: number[]) => labels.map((label, i) => ({ label, probability: i === 0 ? 0.9 : 0.1 / (labels.length - 1) }));

type Cell = PhotoAnalysis['cells'][number];

/** A photographed cell: its printed record (digital top-5 of clean and adversarial) and the captured top-5. */
function cell(index: number, kind: 'clean' | 'adversarial', y: number, clean: number[], adversarial: number[] | null, photo: number[], imageId = `img-${index}`, epsilon = 0.1): Cell {
  return {
    index,
    role: kind === 'clean' ? 'clean' : 'adversarial',
    caption: '',
    status: 'ok',
    quad: [],
    quality: { ok: true, flags: [], sharpness: 1, contrast: 50, clippedDark: 0, clippedBright: 0, pixelsAcross: 60, darkLevel: 20, brightLevel: 230 },
    top5: top(...photo),
    record: {
      kind,
      imageId,
      sourceIndex: index,
      file: null,
      method: kind === 'clean' ? null : 'fgsm',
      epsilon: kind === 'clean' ? null : epsilon,
      trueLabel: y,
      target: null,
      digital: { clean: { float: top(...clean), quantized: top(...clean) }, adversarial: adversarial ? { float: top(...adversarial), quantized: top(...adversarial) } : null },
      image: { width: 28, height: 28, channels: 1 },
    },
  };
}

function capture(cells: Cell[]): StoredCapture {
  return {
    info: { captureId: 'capture-1', experimentId: 'e', createdAt: '', fileName: 'p.jpg', status: 'ok', message: '', sheetId: 's', cellCount: cells.length, analysedCells: cells.length, missingMarkers: [], reprojectionErrorPx: 0.3, warnings: [] },
    analysis: { sheetId: 's', cells } as unknown as PhotoAnalysis,
  };
}

describe('compare: digital vs photographed', () => {
  it('computes Kurakin\'s destruction rate d = Σ C·¬C_adv·C_photo / Σ C·¬C_adv', () => {
    // app/physical/metrics.ts computes it; this checks the service feeds it as the paper does.
    const sample = (clean: number, adversarial: number, photo: number) => ({ trueLabel: 3, clean: top(clean), adversarial: top(adversarial), transformedAdversarial: top(photo) });
    expect(destructionRate([], 1).rate).toBeNull();
    expect(destructionRate([sample(3, 8, 3), sample(3, 8, 8), sample(3, 3, 3), sample(7, 8, 3)], 1)).toEqual({ rate: 0.5, destroyed: 1, eligible: 2 });
  });

  it('groups per method × ε, average and prefiltered, top-1 and top-5, on a known table', () => {
    // Four images of class 3 at ε = 0.1; true label 3 throughout.
    const cells = [
      cell(0, 'adversarial', 3, [3, 1, 2, 4, 5], [8, 1, 2, 4, 5], [3, 8, 1, 2, 4]), // fooled, photo restores: destroyed (top-1 and top-5)
      cell(1, 'adversarial', 3, [3, 1, 2, 4, 5], [8, 3, 2, 4, 5], [8, 3, 1, 2, 4]), // fooled top-1 only, photo still fooled; in top-5
      cell(2, 'adversarial', 3, [3, 1, 2, 4, 5], [3, 1, 2, 4, 5], [3, 1, 2, 4, 5]), // not fooled digitally
      cell(3, 'adversarial', 3, [7, 1, 2, 4, 5], [8, 1, 2, 4, 5], [3, 1, 2, 4, 5]), // clean wrong
      cell(4, 'clean', 3, [3, 1, 2, 4, 5], [8, 1, 2, 4, 5], [3, 1, 2, 4, 5], 'img-0'),
      cell(5, 'clean', 3, [3, 1, 2, 4, 5], [8, 3, 2, 4, 5], [5, 1, 2, 4, 3], 'img-1'),
    ];
    const rates = compareRates([capture(cells)], 0.8);
    expect(rates.map((r) => r.case)).toEqual(['average', 'prefiltered']);
    const [average, prefiltered] = rates;
    expect(average).toMatchObject({ method: 'fgsm', epsilon: 0.1, count: 4 });
    // Top-1: eligible = cells 0 and 1 (clean right, adversarial wrong); the photo restores cell 0 only.
    expect(average.destructionTop1).toBe(0.5);
    // Top-5: only cell 0 has the true label out of the adversarial top-5, and its photo restores it.
    expect(average.destructionTop5).toBe(1);
    expect(average.digital.clean.top1).toBe(0.75);
    expect(average.digital.adversarial.top1).toBe(0.25);
    expect(average.photo.adversarial.top1).toBe(0.75);
    // Photographed clean versions of the same images (img-0 right, img-1 wrong in top-1, right in top-5).
    expect(average.photo.clean).toEqual({ top1: 0.5, top5: 1 });
    // Prefiltered: clean right, adversarial wrong in top-1 AND top-5, confidence ≥ 0.8: cell 0 only.
    expect(prefiltered).toMatchObject({ count: 1, destructionTop1: 1, destructionTop5: 1 });
    expect(compareRates([capture(cells)], 0.95)[1]).toMatchObject({ count: 0, destructionTop1: null });
  });

  it('lists every photographed cell with agreement, and exports CSV and a self-contained HTML report', () => {
    const cells = [cell(0, 'adversarial', 3, [3], [8], [8]), cell(1, 'clean', 3, [3], null, [5], 'img-0')];
    const compared = compareCells([capture(cells)], () => ({ digital: 'data:image/png;base64,AAAA', captured: null }));
    expect(compared.map((c) => [c.kind, c.digitalTop5[0].label, c.capturedTop5[0].label, c.agree])).toEqual([['adversarial', 8, 8, true], ['clean', 3, 5, false]]);
    const report = { experimentId: 'e', captures: 1, cells: compared, rates: compareRates([capture(cells)], 0.8), combine: 'each' as const, prefilterConfidence: 0.8 };
    const csv = compareCsv(report).split('\n');
    expect(csv[0]).toBe('method,epsilon,case,count,digital_clean_top1,digital_clean_top5,digital_adv_top1,digital_adv_top5,photo_clean_top1,photo_clean_top5,photo_adv_top1,photo_adv_top5,destruction_top1,destruction_top5');
    expect(csv[1]).toBe('fgsm,0.1,average,1,1,1,0,0,0,0,0,0,0,0');
    expect(csv).toContain('capture-1,s,1,img-0,clean,,,3,3,5,false,true,3:0.9000,5:0.9000');
    const html = compareHtml(report, 'Test <report>');
    expect(html).toContain('<title>Test &#60;report&#62;</title>');
    expect(html).toContain('data:image/png;base64,AAAA');
    expect(html).not.toMatch(/(src|href)="https?:/);
  });
});
