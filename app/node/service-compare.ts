/**
 * Digital vs photographed: per cell, the printed image's digital top-5 beside the captured crop's,
 * and per method × ε Kurakin's destruction rate (Kurakin, Goodfellow & Bengio 2016, Eq. 1):
 *
 *   d = Σₖ C(Xᵏ,yᵏ)·¬C(Xᵏ_adv,yᵏ)·C(T(Xᵏ_adv),yᵏ) / Σₖ C(Xᵏ,yᵏ)·¬C(Xᵏ_adv,yᵏ)
 *
 * with C "classified correctly" (top-1 or top-5) and T the print-and-photo channel. The digital side
 * is the 8-bit quantized prediction, since that is what was printed. "Prefiltered" keeps, as in the
 * paper, images whose clean version is correct and whose adversarial version is wrong in top-1 and
 * top-5 with confidence at least the threshold (0.8 in the paper). Every capture of a cell counts.
 */
import type { CaptureInfo } from '../api/capture.js';
import type { CompareCell, CompareRate, CompareReport } from '../api/compare.js';
import type { Prediction } from '../api/common.js';
import type { PhotoAnalysis } from '../physical/analyze.js';
import { experimentTable, samplesFromPhotographs } from '../physical/metrics.js';

export interface StoredCapture {
  info: CaptureInfo;
  analysis: PhotoAnalysis;
}

type Views = { float: Prediction[] | null; quantized: Prediction[] | null } | null;

const printed = (views: Views): Prediction[] => views?.quantized ?? views?.float ?? [];

export function compareCells(captures: readonly StoredCapture[], thumbnail: (capture: StoredCapture, cell: PhotoAnalysis['cells'][number]) => { digital: string | null; captured: string | null }): CompareCell[] {
  const cells: CompareCell[] = [];
  for (const capture of captures) {
    for (const cell of capture.analysis.cells) {
      const { record } = cell;
      const digitalTop5 = printed(record.kind === 'clean' ? record.digital.clean : record.digital.adversarial);
      const capturedTop5 = cell.top5 ?? [];
      const thumbs = thumbnail(capture, cell);
      cells.push({
        captureId: capture.info.captureId,
        sheetId: capture.analysis.sheetId ?? '',
        cellIndex: cell.index,
        imageId: record.imageId,
        kind: record.kind,
        method: record.method,
        epsilon: record.epsilon,
        trueLabel: record.trueLabel,
        digitalTop5,
        capturedTop5,
        agree: digitalTop5.length > 0 && capturedTop5.length > 0 && digitalTop5[0].label === capturedTop5[0].label,
        qualityOk: cell.quality.ok && cell.status === 'ok',
        digitalPng: thumbs.digital,
        capturedPng: thumbs.captured,
      });
    }
  }
  return cells;
}

/**
 * The paper's table (app/physical/metrics.ts) over every capture: per method × ε, average and
 * prefiltered case. A clean cell photographed on the same capture as its adversarial version gives
 * the photographed clean accuracy of that row.
 */
export function compareRates(captures: readonly StoredCapture[], prefilterConfidence: number): CompareRate[] {
  const samples = samplesFromPhotographs(captures.map(({ analysis }) => analysis.cells));
  const rows = experimentTable(samples, prefilterConfidence);
  const order = [...rows].sort((a, b) => a.method.localeCompare(b.method) || a.epsilon - b.epsilon);
  const pair = (a: { top1: number | null; top5: number | null }) => ({ top1: a.top1, top5: a.top5 });
  return order.map((row) => ({
    method: row.method,
    epsilon: row.epsilon,
    case: row.case,
    count: row.count,
    digital: { clean: pair(row.digitalClean), adversarial: pair(row.digitalAdversarial) },
    photo: { clean: pair(row.transformedClean), adversarial: pair(row.transformedAdversarial) },
    destructionTop1: row.destructionTop1.rate,
    destructionTop5: row.destructionTop5.rate,
  }));
}

const csvField = (value: unknown): string => {
  const text = value === null || value === undefined ? '' : String(value);
  return /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
};
const csvRow = (values: unknown[]): string => values.map(csvField).join(',');
const topText = (top: readonly Prediction[]): string => top.map((p) => `${p.label}:${p.probability.toFixed(4)}`).join(' ');

/** Two CSV tables in one file: the rates, a blank line, then one row per photographed cell. */
export function compareCsv(report: CompareReport): string {
  const lines = [
    csvRow(['method', 'epsilon', 'case', 'count', 'digital_clean_top1', 'digital_clean_top5', 'digital_adv_top1', 'digital_adv_top5', 'photo_clean_top1', 'photo_clean_top5', 'photo_adv_top1', 'photo_adv_top5', 'destruction_top1', 'destruction_top5']),
    ...report.rates.map((r) =>
      csvRow([r.method, r.epsilon, r.case, r.count, r.digital.clean.top1, r.digital.clean.top5, r.digital.adversarial.top1, r.digital.adversarial.top5, r.photo.clean.top1, r.photo.clean.top5, r.photo.adversarial.top1, r.photo.adversarial.top5, r.destructionTop1, r.destructionTop5]),
    ),
    '',
    csvRow(['capture', 'sheet', 'cell', 'image', 'kind', 'method', 'epsilon', 'true_label', 'digital_top1', 'captured_top1', 'agree', 'quality_ok', 'digital_top5', 'captured_top5']),
    ...report.cells.map((c) =>
      csvRow([c.captureId, c.sheetId, c.cellIndex, c.imageId, c.kind, c.method, c.epsilon, c.trueLabel, c.digitalTop5[0]?.label, c.capturedTop5[0]?.label, c.agree, c.qualityOk, topText(c.digitalTop5), topText(c.capturedTop5)]),
    ),
  ];
  return `${lines.join('\n')}\n`;
}

const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
const percent = (value: number | null): string => (value === null ? '–' : `${(100 * value).toFixed(1)}%`);

/** A single HTML file with inline styles and data-URL thumbnails: opens anywhere, offline. */
export function compareHtml(report: CompareReport, title: string): string {
  const img = (src: string | null) => (src && src.startsWith('data:image/png;base64,') ? `<img src="${src}" alt="" width="56" height="56">` : '');
  const rateRows = report.rates
    .map((r) => `<tr><td>${escapeHtml(r.method)}</td><td>${(r.epsilon * 255).toFixed(1)}/255</td><td>${r.case}</td><td>${r.count}</td><td>${percent(r.digital.clean.top1)}</td><td>${percent(r.digital.adversarial.top1)}</td><td>${percent(r.photo.clean.top1)}</td><td>${percent(r.photo.adversarial.top1)}</td><td><b>${percent(r.destructionTop1)}</b></td><td>${percent(r.destructionTop5)}</td></tr>`)
    .join('\n');
  const cellRows = report.cells
    .map((c) => `<tr class="${c.agree ? 'agree' : 'differ'}"><td>${escapeHtml(c.captureId)}</td><td>${c.cellIndex}</td><td>${escapeHtml(c.imageId)}</td><td>${c.kind}</td><td>${escapeHtml(c.method ?? '')}</td><td>${c.epsilon === null ? '' : (c.epsilon * 255).toFixed(1)}</td><td>${c.trueLabel ?? ''}</td><td>${img(c.digitalPng)} ${c.digitalTop5[0]?.label ?? '–'}</td><td>${img(c.capturedPng)} ${c.capturedTop5[0]?.label ?? '–'}</td><td>${c.qualityOk ? '' : 'flagged'}</td></tr>`)
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<style>body{font:14px system-ui,sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}tr.differ{background:#fde8e8}tr.agree{background:#e8f6e8}img{image-rendering:pixelated;vertical-align:middle}</style>
</head><body>
<h1>${escapeHtml(title)}</h1>
<p>${report.captures} capture(s), ${report.cells.length} photographed cell(s). Destruction rate after Kurakin et al. (2016), Eq. 1; prefiltered: clean correct, adversarial wrong in top-1 and top-5 with confidence ≥ ${report.prefilterConfidence}.</p>
<h2>Per method and ε</h2>
<table><thead><tr><th>method</th><th>ε</th><th>case</th><th>n</th><th>digital clean top-1</th><th>digital adv top-1</th><th>photo clean top-1</th><th>photo adv top-1</th><th>destruction top-1</th><th>destruction top-5</th></tr></thead><tbody>
${rateRows}
</tbody></table>
<h2>Per cell: digital vs captured</h2>
<table><thead><tr><th>capture</th><th>cell</th><th>image</th><th>kind</th><th>method</th><th>ε·255</th><th>true</th><th>digital</th><th>captured</th><th>quality</th></tr></thead><tbody>
${cellRows}
</tbody></table>
</body></html>
`;
}
