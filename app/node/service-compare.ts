/**
 * Digital vs photographed: per cell, the printed image's digital top-5 beside the captured crop's,
 * and per method × ε Kurakin's destruction rate (Kurakin, Goodfellow & Bengio 2016, Eq. 1):
 *
 *   d = Σₖ C(Xᵏ,yᵏ)·¬C(Xᵏ_adv,yᵏ)·C(T(Xᵏ_adv),yᵏ) / Σₖ C(Xᵏ,yᵏ)·¬C(Xᵏ_adv,yᵏ)
 *
 * with C "classified correctly" (top-1 or top-5) and T the print-and-photo channel. The digital side
 * is the 8-bit quantized prediction, since that is what was printed. "Prefiltered" keeps, as in the
 * paper, images whose clean version is correct and whose adversarial version is wrong in top-1 and
 * top-5 with confidence at least the threshold (0.8 in the paper). Every capture of a cell counts on
 * its own, or the captures of one sheet are merged per cell (vote or mean); captures where no sheet was
 * found are listed but not counted.
 */
import type { CaptureInfo } from '../api/capture.js';
import type { Combine, CompareCapture, CompareCell, CompareRate, CompareReport } from '../api/compare.js';
import type { Prediction } from '../api/common.js';
import type { PhotoAnalysis } from '../physical/analyze.js';
import { combineCaptures } from '../physical/combine.js';
import { captureTitles, imagesTimesCaptures, PREDICTED_NOTE, REJECTED_NOTE, rejectedOfPhotographed } from '../experiments/compare-words.js';
import { experimentTable, samplesFromPhotographs } from '../physical/metrics.js';

export interface StoredCapture {
  info: CaptureInfo;
  analysis: PhotoAnalysis;
}

type Views = { float: Prediction[] | null; quantized: Prediction[] | null } | null;
type AnalysedCell = PhotoAnalysis['cells'][number];

const printed = (views: Views): Prediction[] => views?.quantized ?? views?.float ?? [];

/** A sheet was found in it and at least one cell classified: only such captures give cells and rates. */
export function isCounted(analysis: PhotoAnalysis): boolean {
  return analysis.sheetId !== null && analysis.cells.some((cell) => cell.top5 !== undefined && cell.top5.length > 0);
}

/** Every capture, oldest first, with whether it counts (Compare lists the others apart). */
export function compareCaptures(captures: readonly StoredCapture[]): CompareCapture[] {
  return [...captures]
    .sort((a, b) => a.info.createdAt.localeCompare(b.info.createdAt))
    .map(({ info, analysis }) => ({
      captureId: info.captureId,
      fileName: info.fileName,
      source: info.source ?? 'file',
      createdAt: info.createdAt,
      sheetId: analysis.sheetId,
      status: info.status,
      message: info.message,
      counted: isCounted(analysis),
    }));
}

/**
 * What counts, as groups of photographed cells: one group per counted capture (`each`), or one per
 * sheet with its captures merged cell by cell (`vote`/`mean`, app/physical/combine.ts, as
 * `foolprint analyze --combine` does). `from` is the capture and cell a thumbnail is taken from.
 */
interface PhotographedGroup {
  captureId: string | null;
  sheetId: string;
  cells: { index: number; record: AnalysedCell['record']; top5: Prediction[] | undefined; rejected?: boolean; qualityOk: boolean; perCapture: (number | null)[] | null; from: { capture: StoredCapture; cell: AnalysedCell } }[];
}

function photographedGroups(captures: readonly StoredCapture[], combine: Combine): PhotographedGroup[] {
  const counted = [...captures].filter((c) => isCounted(c.analysis)).sort((a, b) => a.info.createdAt.localeCompare(b.info.createdAt));
  if (combine === 'each') {
    return counted.map((capture) => ({
      captureId: capture.info.captureId,
      sheetId: capture.analysis.sheetId ?? '',
      cells: capture.analysis.cells.map((cell) => ({ index: cell.index, record: cell.record, top5: cell.top5, ...(cell.rejected !== undefined ? { rejected: cell.rejected } : {}), qualityOk: cell.quality.ok && cell.status === 'ok', perCapture: null, from: { capture, cell } })),
    }));
  }
  return combineCaptures(counted.map((c) => c.analysis), combine).map((sheet) => {
    const members = counted.filter((c) => sheet.captures.includes(c.analysis));
    return {
      captureId: null,
      sheetId: sheet.sheetId,
      cells: sheet.cells.map((merged) => {
        const seen = members.flatMap((capture) => capture.analysis.cells.filter((cell) => cell.index === merged.index).map((cell) => ({ capture, cell })));
        const from = seen.find(({ cell }) => cell.top5 !== undefined) ?? seen[0];
        return {
          index: merged.index,
          record: merged.record,
          top5: merged.captures > 0 ? merged.top5 : undefined,
          ...(merged.rejected !== undefined ? { rejected: merged.rejected } : {}),
          qualityOk: seen.every(({ cell }) => cell.quality.ok && cell.status === 'ok'),
          perCapture: merged.perCapture,
          from,
        };
      }),
    };
  });
}

export function compareCells(captures: readonly StoredCapture[], thumbnail: (capture: StoredCapture, cell: AnalysedCell) => { digital: string | null; captured: string | null }, combine: Combine = 'each'): CompareCell[] {
  const cells: CompareCell[] = [];
  for (const group of photographedGroups(captures, combine)) {
    for (const cell of group.cells) {
      const { record } = cell;
      const digitalTop5 = printed(record.kind === 'clean' ? record.digital.clean : record.digital.adversarial);
      const capturedTop5 = cell.top5 ?? [];
      const thumbs = thumbnail(cell.from.capture, cell.from.cell);
      cells.push({
        captureId: group.captureId,
        sheetId: group.sheetId,
        cellIndex: cell.index,
        imageId: record.imageId,
        kind: record.kind,
        method: record.method,
        epsilon: record.epsilon,
        trueLabel: record.trueLabel,
        digitalTop5,
        capturedTop5,
        perCapture: cell.perCapture,
        agree: digitalTop5.length > 0 && capturedTop5.length > 0 && digitalTop5[0].label === capturedTop5[0].label,
        qualityOk: cell.qualityOk,
        ...(cell.rejected !== undefined ? { rejected: cell.rejected } : {}),
        digitalPng: thumbs.digital,
        capturedPng: thumbs.captured,
      });
    }
  }
  return cells;
}

/**
 * The paper's table (app/physical/metrics.ts) over the counted captures: per method × ε, average and
 * prefiltered case. A clean cell photographed on the same capture as its adversarial version gives
 * the photographed clean accuracy of that row. Merged (vote/mean), each sheet counts once.
 */
export function compareRates(captures: readonly StoredCapture[], prefilterConfidence: number, combine: Combine = 'each'): CompareRate[] {
  const groups = photographedGroups(captures, combine);
  const samples = samplesFromPhotographs(groups.map((group) => group.cells.map(({ record, top5, rejected }) => ({ record, top5, ...(rejected !== undefined ? { rejected } : {}) }))));
  const rows = experimentTable(samples, prefilterConfidence);
  const order = [...rows].sort((a, b) => a.method.localeCompare(b.method) || a.epsilon - b.epsilon);
  const pair = (a: { top1: number | null; top5: number | null }) => ({ top1: a.top1, top5: a.top5 });
  return order.map((row) => ({
    method: row.method,
    epsilon: row.epsilon,
    case: row.case,
    count: row.count,
    images: row.images,
    captures: row.captures,
    digital: { clean: pair(row.digitalClean), adversarial: pair(row.digitalAdversarial) },
    photo: { clean: pair(row.transformedClean), adversarial: pair(row.transformedAdversarial) },
    destructionTop1: row.destructionTop1.rate,
    destructionTop5: row.destructionTop5.rate,
    predictedDestructionTop1: row.predictedDestructionTop1,
    rejections: row.rejections && { photoClean: row.rejections.transformedClean, photoAdversarial: row.rejections.transformedAdversarial },
  }));
}

const csvField = (value: unknown): string => {
  const text = value === null || value === undefined ? '' : String(value);
  return /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
};
const csvRow = (values: unknown[]): string => values.map(csvField).join(',');
const topText = (top: readonly Prediction[]): string => top.map((p) => `${p.label}:${p.probability.toFixed(4)}`).join(' ');

const PLAIN_RATE_COLUMNS = ['method', 'epsilon', 'case', 'images', 'captures', 'count', 'digital_clean_top1', 'digital_clean_top5', 'digital_adv_top1', 'digital_adv_top5', 'photo_clean_top1', 'photo_clean_top5', 'photo_adv_top1', 'photo_adv_top5', 'destruction_top1', 'destruction_top5'];
/** A protected model's refusals, apart from the rates: columns only in reports of captures it analysed. */
const RATE_REJECTION_COLUMNS = ['photo_clean_rejected', 'photo_adv_rejected'];
/** Runs attacked with a print survival estimate: the destruction it predicted, in a column only then. */
const RATE_PREDICTED_COLUMNS = ['predicted_destruction_top1'];
const PLAIN_CELL_COLUMNS = ['photo', 'capture', 'sheet', 'cell', 'image', 'kind', 'method', 'epsilon', 'true_label', 'digital_top1', 'captured_top1', 'agree', 'quality_ok', 'digital_top5', 'captured_top5', 'per_capture_top1'];

function rateRecord(r: CompareRate): Record<string, unknown> {
  return {
    method: r.method, epsilon: r.epsilon, case: r.case, images: r.images, captures: r.captures, count: r.count,
    digital_clean_top1: r.digital.clean.top1, digital_clean_top5: r.digital.clean.top5, digital_adv_top1: r.digital.adversarial.top1, digital_adv_top5: r.digital.adversarial.top5,
    photo_clean_top1: r.photo.clean.top1, photo_clean_top5: r.photo.clean.top5, photo_adv_top1: r.photo.adversarial.top1, photo_adv_top5: r.photo.adversarial.top5,
    destruction_top1: r.destructionTop1, destruction_top5: r.destructionTop5, predicted_destruction_top1: r.predictedDestructionTop1,
    photo_clean_rejected: r.rejections?.photoClean.rejected, photo_adv_rejected: r.rejections?.photoAdversarial.rejected,
  };
}

/** The photo(s) a cell was seen on, by file name: one capture's, or every merged capture's of its sheet. */
export function cellPhotos(report: Pick<CompareReport, 'captures'>, cell: Pick<CompareCell, 'captureId' | 'sheetId'>): string[] {
  const counted = report.captures.filter((c) => c.counted);
  return (cell.captureId === null ? counted.filter((c) => c.sheetId === cell.sheetId) : counted.filter((c) => c.captureId === cell.captureId)).map((c) => c.fileName);
}

function cellRecord(report: CompareReport, c: CompareCell): Record<string, unknown> {
  return {
    photo: cellPhotos(report, c).join(' + '), capture: c.captureId ?? report.combine, sheet: c.sheetId, cell: c.cellIndex, image: c.imageId, kind: c.kind, method: c.method, epsilon: c.epsilon, true_label: c.trueLabel,
    digital_top1: c.digitalTop5[0]?.label, captured_top1: c.capturedTop5[0]?.label, agree: c.agree, quality_ok: c.qualityOk,
    digital_top5: topText(c.digitalTop5), captured_top5: topText(c.capturedTop5), per_capture_top1: c.perCapture?.map((l) => l ?? '-').join(' '), rejected: c.rejected,
  };
}

/**
 * CSV of the report: the rates or the cells alone (one table per file), or both in one table whose
 * first column `table` says "rates" or "cells" (columns the other table has are left empty).
 */
export function compareCsv(report: CompareReport, table: 'both' | 'rates' | 'cells' = 'both'): string {
  const rates = report.rates.map(rateRecord);
  const cells = report.cells.map((c) => cellRecord(report, c));
  const screened = report.rates.some((r) => r.rejections !== null) || report.cells.some((c) => c.rejected !== undefined);
  const predicted = report.rates.some((r) => r.predictedDestructionTop1 !== null);
  const rateColumns = [...PLAIN_RATE_COLUMNS, ...(predicted ? RATE_PREDICTED_COLUMNS : []), ...(screened ? RATE_REJECTION_COLUMNS : [])];
  const cellColumns = screened ? [...PLAIN_CELL_COLUMNS, 'rejected'] : PLAIN_CELL_COLUMNS;
  const write = (columns: string[], rows: Record<string, unknown>[]) => [csvRow(columns), ...rows.map((row) => csvRow(columns.map((k) => row[k])))];
  const lines =
    table === 'rates'
      ? write(rateColumns, rates)
      : table === 'cells'
        ? write(cellColumns, cells)
        : write(['table', ...new Set([...rateColumns, ...cellColumns])], [...rates.map((r) => ({ table: 'rates', ...r })), ...cells.map((c) => ({ table: 'cells', ...c }))]);
  return `${lines.join('\n')}\n`;
}

const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
const percent = (value: number | null): string => (value === null ? '–' : `${(100 * value).toFixed(1)}%`);

/**
 * A single HTML file with inline styles and data-URL thumbnails: opens anywhere, offline. Landmarks
 * (header, main, one labelled section per table) and table captions keep it navigable by screen reader.
 */
export function compareHtml(report: CompareReport, title: string): string {
  const titles = captureTitles(report.captures);
  const name = (label: number | null | undefined): string => (label === null || label === undefined ? '' : escapeHtml(report.classNames?.[label] ?? String(label)));
  const img = (src: string | null, alt: string) => (src && src.startsWith('data:image/png;base64,') ? `<img src="${src}" alt="${escapeHtml(alt)}" width="56" height="56">` : '');
  // Columns only some reports have, as on the Compare screen: the destruction a run's print survival
  // estimates predicted, and a protected model's refusals of the photos.
  const predicted = report.rates.some((r) => r.predictedDestructionTop1 !== null);
  const screened = report.rates.some((r) => r.rejections !== null);
  const refused = (c: { correct: number; wrong: number; rejected: number } | undefined) => (c ? rejectedOfPhotographed(c) : '–');
  const rateRows = report.rates
    .map((r) => `<tr><td>${escapeHtml(r.method)}</td><td>${(r.epsilon * 255).toFixed(1)}/255</td><td>${r.case}</td><td>${escapeHtml(imagesTimesCaptures(r, report.combine))}</td><td>${percent(r.digital.clean.top1)}</td><td>${percent(r.digital.adversarial.top1)}</td><td>${percent(r.photo.clean.top1)}</td><td>${percent(r.photo.adversarial.top1)}</td><td><b>${percent(r.destructionTop1)}</b></td>${predicted ? `<td>${percent(r.predictedDestructionTop1)}</td>` : ''}<td>${percent(r.destructionTop5)}</td>${screened ? `<td>${refused(r.rejections?.photoClean)}</td><td>${refused(r.rejections?.photoAdversarial)}</td>` : ''}</tr>`)
    .join('\n');
  const groups = new Map<string, CompareCell[]>();
  for (const c of report.cells) {
    const key = c.captureId ?? `sheet ${c.sheetId}`;
    groups.set(key, [...(groups.get(key) ?? []), c]);
  }
  const groupTitle = (cells: CompareCell[]): string => {
    const first = cells[0];
    if (first.captureId !== null) return `${titles.get(first.captureId) ?? first.captureId} (sheet ${first.sheetId})`;
    const merged = report.captures.filter((c) => c.counted && c.sheetId === first.sheetId).map((c) => titles.get(c.captureId) ?? c.fileName);
    return `sheet ${first.sheetId}: ${report.combine} of ${merged.length} capture(s): ${merged.join(', ')}`;
  };
  const cellTables = [...groups.values()]
    .map((cells, g) => {
      const heading = `cells-${g + 1}`;
      const rows = cells
        .map((c) => `<tr class="${c.agree ? 'agree' : 'differ'}"><td>${c.cellIndex}</td><td>${escapeHtml(c.imageId)}</td><td>${c.kind}</td><td>${escapeHtml(c.method ?? '')}</td><td>${c.epsilon === null ? '' : (c.epsilon * 255).toFixed(1)}</td><td>${name(c.trueLabel)}</td><td>${img(c.digitalPng, `digital cell ${c.cellIndex}`)} ${name(c.digitalTop5[0]?.label) || '–'}</td><td>${img(c.capturedPng, `photographed cell ${c.cellIndex}`)} ${name(c.capturedTop5[0]?.label) || '–'}</td><td>${c.qualityOk ? 'ok' : 'flagged'}</td></tr>`)
        .join('\n');
      return `<section aria-labelledby="${heading}"><h3 id="${heading}">${escapeHtml(groupTitle(cells))}</h3>
<table><caption>Digital vs photographed, ${cells.length} cell(s)</caption><thead><tr><th scope="col">cell</th><th scope="col">image</th><th scope="col">kind</th><th scope="col">method</th><th scope="col">ε·255</th><th scope="col">true</th><th scope="col">digital</th><th scope="col">photographed</th><th scope="col">quality</th></tr></thead><tbody>
${rows}
</tbody></table></section>`;
    })
    .join('\n');
  const counted = report.captures.filter((c) => c.counted);
  const apart = report.captures.filter((c) => !c.counted);
  const apartList = apart.length === 0 ? '' : `<section aria-labelledby="apart"><h2 id="apart">Not counted: no sheet found</h2><ul>${apart.map((c) => `<li>${escapeHtml(titles.get(c.captureId) ?? c.fileName)}: ${escapeHtml(c.message)}</li>`).join('')}</ul></section>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<style>body{font:14px system-ui,sans-serif;margin:2em;color:#1c2330}table{border-collapse:collapse;margin:0.5em 0 1em}caption{text-align:left;color:#4a5468}td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}tr.differ{background:#fde8e8}tr.agree{background:#e8f6e8}img{image-rendering:pixelated;vertical-align:middle}</style>
</head><body>
<header><h1>${escapeHtml(title)}</h1></header>
<main>
<p>${counted.length} capture(s) counted (${escapeHtml(counted.map((c) => titles.get(c.captureId) ?? c.fileName).join(', '))})${apart.length > 0 ? `, ${apart.length} without a sheet not counted` : ''}; ${report.combine === 'each' ? 'every capture counts on its own' : `captures of one sheet merged per cell by ${report.combine}`}. Destruction rate after Kurakin et al. (2016), Eq. 1; prefiltered: clean correct, adversarial wrong in top-1 and top-5 with confidence ≥ ${report.prefilterConfidence}.${predicted ? ` ${escapeHtml(PREDICTED_NOTE)}` : ''}${screened ? ` ${escapeHtml(REJECTED_NOTE)}` : ''}</p>
<section aria-labelledby="rates"><h2 id="rates">Per method and ε</h2>
<table><caption>Accuracy and destruction rate per method, ε and case</caption><thead><tr><th scope="col">method</th><th scope="col">ε</th><th scope="col">case</th><th scope="col">photographed</th><th scope="col">digital clean top-1</th><th scope="col">digital adv top-1</th><th scope="col">photo clean top-1</th><th scope="col">photo adv top-1</th><th scope="col">destruction top-1</th>${predicted ? '<th scope="col">predicted destruction top-1</th>' : ''}<th scope="col">destruction top-5</th>${screened ? '<th scope="col">photo clean rejected</th><th scope="col">photo adv rejected</th>' : ''}</tr></thead><tbody>
${rateRows}
</tbody></table></section>
<section aria-labelledby="cells"><h2 id="cells">Per cell: digital vs photographed</h2>
${cellTables}
</section>
${apartList}
</main>
</body></html>
`;
}
