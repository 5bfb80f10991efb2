import { describe, expect, it } from 'vitest';
import { compareCaptures, compareCells, compareCsv, compareHtml, compareRates } from '../app/node/service-compare.js';
import { captureTitles, imagesTimesCaptures } from '../app/experiments/compare-words.js';
import { accuracyByEpsilon } from '../app/experiments/photo-accuracy.js';
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

function capture(cells: Cell[], { captureId = 'capture-1', fileName = 'p.jpg', createdAt = '', sheetId = 's' as string | null, source = 'file' as 'file' | 'camera' } = {}): StoredCapture {
  const status = sheetId === null ? 'no-sheet' : 'ok';
  return {
    info: { captureId, experimentId: 'e', createdAt, fileName, source, status, message: sheetId === null ? 'no sheet in the photo' : '', sheetId, cellCount: cells.length, analysedCells: cells.length, missingMarkers: [], reprojectionErrorPx: 0.3, warnings: [] },
    analysis: { sheetId, cells } as unknown as PhotoAnalysis,
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
    const report = { experimentId: 'e', captures: compareCaptures([capture(cells)]), cells: compared, rates: compareRates([capture(cells)], 0.8), combine: 'each' as const, prefilterConfidence: 0.8, classNames: null };
    const rates = compareCsv(report, 'rates').trim().split('\n');
    expect(rates).toEqual([
      'method,epsilon,case,images,captures,count,digital_clean_top1,digital_clean_top5,digital_adv_top1,digital_adv_top5,photo_clean_top1,photo_clean_top5,photo_adv_top1,photo_adv_top5,destruction_top1,destruction_top5',
      'fgsm,0.1,average,1,1,1,1,1,0,0,0,0,0,0,0,0',
      'fgsm,0.1,prefiltered,1,1,1,1,1,0,0,0,0,0,0,0,0',
    ]);
    // A run with print survival estimates: the sheet's cells carry them, and the rates say what they predicted.
    const estimated = cells.map((c) => (c.record.kind === 'adversarial' ? { ...c, record: { ...c.record, survival: 0.25 } } : c));
    const predictedRates = compareCsv({ ...report, rates: compareRates([capture(estimated)], 0.8) }, 'rates').trim().split('\n');
    expect(predictedRates[0]).toBe(`${rates[0]},predicted_destruction_top1`);
    expect(predictedRates[1]).toBe(`${rates[1]},0.75`);
    // The HTML report has the column only then, beside the measured rate.
    const predictedHtml = compareHtml({ ...report, rates: compareRates([capture(estimated)], 0.8) }, 'Predicted');
    expect(predictedHtml).toContain('<th scope="col">destruction top-1</th><th scope="col">predicted destruction top-1</th><th scope="col">destruction top-5</th>');
    expect(predictedHtml).toContain('<td><b>0.0%</b></td><td>75.0%</td><td>0.0%</td></tr>');
    expect(compareHtml(report, 'Plain')).not.toContain('predicted');
    const cellsCsv = compareCsv(report, 'cells').trim().split('\n');
    expect(cellsCsv[0]).toBe('photo,capture,sheet,cell,image,kind,method,epsilon,true_label,digital_top1,captured_top1,agree,quality_ok,digital_top5,captured_top5,per_capture_top1');
    expect(cellsCsv).toContain('p.jpg,capture-1,s,1,img-0,clean,,,3,3,5,false,true,3:0.9000,5:0.9000,');
    expect(cellsCsv).toHaveLength(3);
    const html = compareHtml(report, 'Test <report>');
    expect(html).toContain('<title>Test &#60;report&#62;</title>');
    expect(html).toContain('data:image/png;base64,AAAA');
    expect(html).not.toMatch(/(src|href)="https?:/);
    // Without class names labels are numbers; with the sheets' class names (a Fashion-MNIST model), names.
    expect(html).toContain('<td>3</td>');
    const named = compareHtml({ ...report, classNames: ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'] }, 'Named');
    expect(named).toContain('<td>Dress</td>');
    expect(named).toContain('alt="digital cell 0" width="56" height="56"> Bag</td>');
    expect(named).toContain(' Sandal</td>');
    expect(named).not.toContain('<td>3</td>');
  });
});

describe('compare: what was photographed', () => {
  // One sheet, two adversarial images (true label 3) and their clean originals, photographed three times.
  const sheetCells = (photoA: number, photoB: number) => [
    cell(0, 'adversarial', 3, [3, 1], [8, 1], [photoA, 1], 'img-a'),
    cell(1, 'adversarial', 3, [3, 1], [8, 1], [photoB, 1], 'img-b'),
    cell(2, 'clean', 3, [3, 1], null, [3, 1], 'img-a'),
    cell(3, 'clean', 3, [3, 1], null, [3, 1], 'img-b'),
  ];
  const captures = [
    capture(sheetCells(3, 8), { captureId: 'capture-2', fileName: 'IMG_2.jpg', createdAt: '2026-12-02T14:37:00.000Z' }),
    capture(sheetCells(3, 3), { captureId: 'capture-1', fileName: 'IMG_1.jpg', createdAt: '2026-12-02T14:36:00.000Z' }),
    capture(sheetCells(8, 8), { captureId: 'capture-3', fileName: 'still.png', createdAt: '2026-12-02T14:38:00.000Z', source: 'camera' }),
    capture([], { captureId: 'capture-0', fileName: 'blank.jpg', createdAt: '2026-12-02T14:35:00.000Z', sheetId: null }),
  ];

  it('counts images × captures, oldest capture first, and leaves captures without a sheet apart', () => {
    expect(compareCaptures(captures).map((c) => [c.fileName, c.counted])).toEqual([['blank.jpg', false], ['IMG_1.jpg', true], ['IMG_2.jpg', true], ['still.png', true]]);
    const [average] = compareRates(captures, 0.8);
    expect(average).toMatchObject({ images: 2, captures: 3, count: 6 });
    // Destroyed: IMG_1 both, IMG_2 one, still none: 3 of 6.
    expect(average.destructionTop1).toBe(0.5);
    expect(imagesTimesCaptures(average, 'each')).toBe('2 images × 3 captures');
    const cells = compareCells(captures, () => ({ digital: null, captured: null }));
    expect(cells.map((c) => c.captureId)).toEqual([...Array(4).fill('capture-1'), ...Array(4).fill('capture-2'), ...Array(4).fill('capture-3')]);
  });

  it('merges the captures of a sheet per cell by vote or mean, as foolprint analyze --combine does', () => {
    // Votes per adversarial cell: img-a 3,3,8 → 3 (destroyed); img-b 8,3,8 → 8 (not destroyed).
    const voted = compareCells(captures, () => ({ digital: null, captured: null }), 'vote');
    expect(voted).toHaveLength(4);
    expect(voted.every((c) => c.captureId === null && c.sheetId === 's')).toBe(true);
    expect(voted.slice(0, 2).map((c) => [c.capturedTop5[0].label, c.perCapture])).toEqual([[3, [3, 3, 8]], [8, [3, 8, 8]]]);
    expect(voted[0].capturedTop5[0].probability).toBeCloseTo(2 / 3);
    const [average] = compareRates(captures, 0.8, 'vote');
    expect(average).toMatchObject({ images: 2, captures: 1, count: 2, destructionTop1: 0.5 });
    expect(imagesTimesCaptures(average, 'vote')).toBe('2 images × 1 sheet (vote)');
    // Mean of probabilities (0.9 on the top-1, 0.1 on label 1; a class missing from a top-5 counts 0):
    // img-a's 3 gets (0.9 + 0.9 + 0) / 3.
    const meaned = compareCells(captures, () => ({ digital: null, captured: null }), 'mean');
    expect(meaned[0].capturedTop5[0]).toEqual({ label: 3, probability: expect.closeTo(1.8 / 3, 10) });
  });

  it('exports one CSV table with a `table` column, photos by file name, and an HTML report with landmarks', () => {
    const report = {
      experimentId: 'e', captures: compareCaptures(captures), cells: compareCells(captures, () => ({ digital: null, captured: null }), 'vote'),
      rates: compareRates(captures, 0.8, 'vote'), combine: 'vote' as const, prefilterConfidence: 0.8, classNames: null,
    };
    const lines = compareCsv(report).trim().split('\n');
    const header = lines[0].split(',');
    expect(header[0]).toBe('table');
    expect(new Set(header).size).toBe(header.length);
    expect(lines.slice(1).map((l) => l.split(',')[0])).toEqual(['rates', 'rates', 'cells', 'cells', 'cells', 'cells']);
    const photo = header.indexOf('photo');
    expect(lines[3].split(',')[photo]).toBe('IMG_1.jpg + IMG_2.jpg + still.png');
    expect(lines[3].split(',')[header.indexOf('per_capture_top1')]).toBe('3 3 8');
    const html = compareHtml(report, 'Report');
    expect(html).toMatch(/<main>[\s\S]*<section aria-labelledby="rates">[\s\S]*<\/main>/);
    expect(html).toContain('Not counted: no sheet found</h2><ul><li>blank.jpg: no sheet in the photo</li>');
    expect(html).toContain('2 images × 1 sheet (vote)');
    expect(html).not.toMatch(/<th><\/th>/);
  });

  it('names camera stills by the time they were taken, with seconds only where two share a minute', () => {
    const at = (h: number, m: number, s: number) => new Date(2026, 11, 2, h, m, s).toISOString();
    const titles = captureTitles([
      { captureId: 'a', fileName: 'still-x.png', source: 'camera', createdAt: at(14, 36, 5) },
      { captureId: 'b', fileName: 'still-y.png', source: 'camera', createdAt: at(14, 36, 50) },
      { captureId: 'c', fileName: 'still-z.png', source: 'camera', createdAt: at(9, 5, 0) },
      { captureId: 'd', fileName: 'IMG_0042.JPG', source: 'file', createdAt: at(14, 36, 5) },
      { captureId: 'e', fileName: 'still-w.png', source: 'camera', createdAt: 'not a date' },
    ]);
    expect([...titles.values()]).toEqual(['camera still, 14:36:05', 'camera still, 14:36:50', 'camera still, 09:05', 'IMG_0042.JPG', 'camera still']);
  });

  it('numbers captures whose titles would still read alike, so every section on the screen has its own name', () => {
    const at = new Date(2026, 11, 2, 14, 36, 5).toISOString();
    const titles = captureTitles([
      { captureId: 'a', fileName: 'still-x.png', source: 'camera', createdAt: at },
      { captureId: 'b', fileName: 'IMG_0042.JPG', source: 'file', createdAt: at },
      { captureId: 'c', fileName: 'still-y.png', source: 'camera', createdAt: at },
      { captureId: 'd', fileName: 'IMG_0042.JPG', source: 'file', createdAt: at },
      { captureId: 'e', fileName: 'IMG_0043.JPG', source: 'file', createdAt: at },
    ]);
    expect([...titles.values()]).toEqual(['camera still, 14:36:05 (1)', 'IMG_0042.JPG (1)', 'camera still, 14:36:05 (2)', 'IMG_0042.JPG (2)', 'IMG_0043.JPG']);
    expect(new Set(titles.values()).size).toBe(5);
  });
});

describe('imagesTimesCaptures', () => {
  it('says none for an empty row and singular for one', () => {
    expect(imagesTimesCaptures({ images: 0, captures: 0 }, 'each')).toBe('none');
    expect(imagesTimesCaptures({ images: 1, captures: 1 }, 'each')).toBe('1 image × 1 capture');
    expect(imagesTimesCaptures({ images: 3, captures: 2 }, 'mean')).toBe('3 images × 2 sheets (mean)');
  });
});

describe('accuracy vs ε, digital beside photographed (the Compare chart)', () => {
  /** An adversarial cell of `method` at ε: true 3, clean right, digital top-1 `digital`, photo top-1 `photo`. */
  const adversarial = (index: number, method: string, epsilon: number, digital: number, photo: number): Cell => {
    const c = cell(index, 'adversarial', 3, [3, 1, 2, 4, 5], [digital, 1, 2, 4, 5], [photo, 1, 2, 4, 5], `img-${index % 4}`, epsilon);
    return { ...c, record: { ...c.record, method } };
  };

  it('gives one digital and one photo line per method, points in increasing ε, from the report\'s own rows', () => {
    const cells = [
      // bim at ε 0.2: 4 images, digital 0/4 right, photo 2/4 right (two destroyed)
      adversarial(0, 'bim', 0.2, 8, 3), adversarial(1, 'bim', 0.2, 8, 3), adversarial(2, 'bim', 0.2, 8, 8), adversarial(3, 'bim', 0.2, 8, 8),
      // bim at ε 0.1: digital 2/4 right, photo 3/4
      adversarial(4, 'bim', 0.1, 3, 3), adversarial(5, 'bim', 0.1, 3, 3), adversarial(6, 'bim', 0.1, 8, 3), adversarial(7, 'bim', 0.1, 8, 8),
      // bim+eot16 at ε 0.1: digital 1/4, photo 1/4 (nothing destroyed)
      adversarial(8, 'bim+eot16', 0.1, 3, 3), adversarial(9, 'bim+eot16', 0.1, 8, 8), adversarial(10, 'bim+eot16', 0.1, 8, 8), adversarial(11, 'bim+eot16', 0.1, 8, 8),
    ];
    // The same sheet photographed twice, the second time the bim ε 0.2 cells all read right: each capture counts.
    const second = cells.map((c) => (c.record.method === 'bim' && c.record.epsilon === 0.2 ? { ...c, top5: top(3, 1, 2, 4, 5) } : c));
    const rates = compareRates([capture(cells), capture(second, { captureId: 'capture-2' })], 0.8);
    const lines = accuracyByEpsilon(rates);
    expect(lines.map((l) => l.method)).toEqual(['bim', 'bim+eot16']);
    expect(lines[0].digital).toEqual([{ epsilon: 0.1, accuracy: 0.5, count: 4 }, { epsilon: 0.2, accuracy: 0, count: 4 }]);
    expect(lines[0].photo).toEqual([{ epsilon: 0.1, accuracy: 0.75, count: 8 }, { epsilon: 0.2, accuracy: 6 / 8, count: 8 }]);
    expect(lines[1]).toEqual({ method: 'bim+eot16', digital: [{ epsilon: 0.1, accuracy: 0.25, count: 4 }], photo: [{ epsilon: 0.1, accuracy: 0.25, count: 8 }] });
  });

  it('leaves out a point without a figure and ignores prefiltered rows', () => {
    const rate = (method: string, epsilon: number, kase: 'average' | 'prefiltered', digital: number | null, photo: number | null) => ({
      method, epsilon, case: kase, count: 2, images: 2, captures: 1,
      digital: { clean: { top1: 1, top5: 1 }, adversarial: { top1: digital, top5: digital } },
      photo: { clean: { top1: null, top5: null }, adversarial: { top1: photo, top5: photo } },
      destructionTop1: null, destructionTop5: null, predictedDestructionTop1: null, rejections: null,
    });
    const lines = accuracyByEpsilon([rate('pgd', 0.3, 'average', 0.1, null), rate('pgd', 0.3, 'prefiltered', 0, 0), rate('pgd', 0.1, 'average', 0.6, 0.9)]);
    expect(lines).toEqual([{ method: 'pgd', digital: [{ epsilon: 0.1, accuracy: 0.6, count: 2 }, { epsilon: 0.3, accuracy: 0.1, count: 2 }], photo: [{ epsilon: 0.1, accuracy: 0.9, count: 2 }] }]);
    expect(accuracyByEpsilon([])).toEqual([]);
  });
});
