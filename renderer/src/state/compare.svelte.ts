/**
 * The Compare screen: digital vs captured per cell, grouped by what was photographed (one group per
 * capture, or per sheet when captures are merged by vote or mean), destruction rates per method × ε ×
 * case, exports.
 */
import type { Combine, CompareCell, CompareReport } from '../../../app/api/compare.js';
import { captureTitles } from '../../../app/experiments/compare-words.js';
import { downloadFile } from '../download.js';
import type { Session } from './session.svelte.js';

export type CellFilter = 'all' | 'disagree' | 'adversarial' | 'clean';
/** CSV as one table with a `table` column, or one file per table. */
export type CsvLayout = 'both' | 'files';

export interface CellGroup {
  key: string;
  title: string;
  /** Cells of the group that pass the filter. */
  cells: CompareCell[];
  analysed: number;
  agree: number;
}

export class CompareController {
  report = $state.raw<CompareReport | null>(null);
  prefilterConfidence = $state(0.8);
  combine = $state<Combine>('each');
  csvLayout = $state<CsvLayout>('both');
  loading = $state(false);
  exporting = $state(false);
  filter = $state<CellFilter>('all');

  readonly titles = $derived(captureTitles(this.report?.captures ?? []));
  readonly counted = $derived((this.report?.captures ?? []).filter((c) => c.counted));
  readonly apart = $derived((this.report?.captures ?? []).filter((c) => !c.counted));

  readonly groups = $derived.by((): CellGroup[] => {
    const report = this.report;
    if (!report) return [];
    const pass = (c: CompareCell) => (this.filter === 'all' ? true : this.filter === 'disagree' ? !c.agree : c.kind === this.filter);
    const byKey = new Map<string, CompareCell[]>();
    for (const cell of report.cells) {
      const key = cell.captureId ?? `sheet:${cell.sheetId}`;
      byKey.set(key, [...(byKey.get(key) ?? []), cell]);
    }
    return [...byKey.entries()].map(([key, cells]) => {
      const analysed = cells.filter((c) => c.capturedTop5.length > 0);
      return { key, title: this.groupTitle(cells[0]), cells: cells.filter(pass), analysed: analysed.length, agree: analysed.filter((c) => c.agree).length };
    });
  });

  readonly agreement = $derived.by(() => {
    const analysed = (this.report?.cells ?? []).filter((c) => c.capturedTop5.length > 0);
    return { analysed: analysed.length, agree: analysed.filter((c) => c.agree).length };
  });

  constructor(private readonly session: Session) {}

  private groupTitle(cell: CompareCell): string {
    if (cell.captureId !== null) return `${this.titles.get(cell.captureId) ?? cell.captureId} · sheet ${cell.sheetId}`;
    const merged = this.counted.filter((c) => c.sheetId === cell.sheetId).map((c) => this.titles.get(c.captureId) ?? c.fileName);
    return `Sheet ${cell.sheetId} · ${this.combine === 'mean' ? 'mean' : 'vote'} of ${merged.length} capture${merged.length === 1 ? '' : 's'}: ${merged.join(', ')}`;
  }

  /** Which load() is the latest: an earlier answer arriving after a later one must not replace it. */
  private loadSequence = 0;

  async load(): Promise<void> {
    const experimentId = this.session.experimentId;
    if (!experimentId) return;
    const sequence = ++this.loadSequence;
    this.loading = true;
    const report = await this.session.guard(() => this.session.api.compare.get({ experimentId, prefilterConfidence: this.prefilterConfidence, combine: this.combine, thumbnails: true }));
    if (sequence !== this.loadSequence) return;
    this.loading = false;
    if (report) this.report = report;
  }

  async export(format: 'csv' | 'json' | 'html'): Promise<void> {
    const experimentId = this.session.experimentId;
    if (!experimentId) return;
    this.exporting = true;
    const tables = format === 'csv' && this.csvLayout === 'files' ? (['rates', 'cells'] as const) : (['both'] as const);
    for (const table of tables) {
      const file = await this.session.guard(() => this.session.api.compare.export({ experimentId, format, table, combine: this.combine, prefilterConfidence: this.prefilterConfidence }));
      if (file) downloadFile(file);
    }
    this.exporting = false;
  }
}
