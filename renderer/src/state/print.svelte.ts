/** The Print screen's state: layout choices, the real-scale preview and the exported sheet sets. */
import type { AttackRun } from '../../../app/api/attacks.js';
import type { SheetParams, SheetPreview, SheetSet } from '../../../app/api/sheets.js';
import type { SheetManifest } from '../../../app/physical/sheet-manifest.js';
import { hostPrintSheet } from '../api.js';
import { base64ToBytes } from '../base64.js';
import { downloadFile, openForPrinting } from '../download.js';
import { JobProgress } from './job.svelte.js';
import type { Session } from './session.svelte.js';

export class PrintController {
  readonly job: JobProgress;
  runs = $state.raw<AttackRun[]>([]);
  runId = $state<string | null>(null);
  paper = $state<'a4' | 'letter'>('a4');
  orientation = $state<'portrait' | 'landscape'>('portrait');
  cellMm = $state(30);
  pairs = $state(true);
  dpi = $state(300);
  limit = $state(12);
  /** A run with print survival estimates: print only examples estimated to survive at least this many % of the draws; null = all. */
  minSurvivalPercent = $state<number | null>(null);
  /** ε of the run to print; null = all. */
  epsilon = $state<number | null>(null);
  preview = $state.raw<SheetPreview | null>(null);
  previewPage = $state(1);
  sheetSets = $state.raw<SheetSet[]>([]);
  message = $state<string | null>(null);
  /** An exported set's page shown in place of the layout preview: the sheet as it was written. */
  shown = $state.raw<{ set: SheetSet; page: number; png: string; pageMm: { width: number; height: number }; sheetId: string } | null>(null);

  readonly run = $derived(this.runs.find((r) => r.runId === this.runId) ?? null);
  /** The chosen run estimated its examples' print survival (AttackOptions.survival). */
  readonly hasSurvival = $derived(this.run?.perEpsilon.some((e) => e.quantized.meanSurvival !== undefined) ?? false);
  /**
   * Which request for the sheet view is the latest. Previews and exported pages arrive out of order: a
   * run chosen while the last export's page is still on its way must not be covered by that page when
   * it lands, nor a newer layout's preview by an older one. Only the latest request's answer is shown.
   */
  #viewRequest = 0;

  constructor(private readonly session: Session) {
    this.job = new JobProgress(session.api);
  }

  params(): SheetParams | null {
    const experimentId = this.session.experimentId;
    if (!experimentId || !this.runId) return null;
    return {
      experimentId,
      runId: this.runId,
      epsilons: this.epsilon === null ? undefined : [this.epsilon],
      limit: this.limit > 0 ? this.limit : undefined,
      ...(this.hasSurvival && this.minSurvivalPercent !== null && this.minSurvivalPercent > 0 ? { minSurvival: Math.min(100, this.minSurvivalPercent) / 100 } : {}),
      pairs: this.pairs,
      paper: this.paper,
      orientation: this.orientation,
      cellMm: this.cellMm,
      dpi: this.dpi,
    };
  }

  async load(): Promise<void> {
    const experimentId = this.session.experimentId;
    if (!experimentId) return;
    const [runs, sets] = (await this.session.guard(() => Promise.all([this.session.api.attacks.list({ experimentId }), this.session.api.sheets.list({ experimentId })]))) ?? [[], []];
    this.runs = runs;
    this.sheetSets = sets;
    if (!this.runId || !runs.some((r) => r.runId === this.runId)) this.runId = runs[runs.length - 1]?.runId ?? null;
  }

  /** A layout choice changed: the preview shows the layout again, not an exported set. */
  async layoutChanged(): Promise<void> {
    this.shown = null;
    await this.refreshPreview();
  }

  async refreshPreview(): Promise<void> {
    const request = ++this.#viewRequest;
    const params = this.params();
    if (!params) return;
    const preview = await this.session.guard(() => this.session.api.sheets.preview({ ...params, page: this.previewPage, previewDpi: 96 }));
    if (preview && request === this.#viewRequest) {
      this.preview = preview;
      if (this.previewPage > preview.pageCount) this.previewPage = preview.pageCount;
    }
  }

  async export(): Promise<void> {
    const params = this.params();
    if (!params) return;
    const set = await this.job.run('sheetExport', 'Exporting sheets', () => this.session.api.sheets.export(params));
    if (set) {
      this.sheetSets = [...this.sheetSets.filter((s) => s.sheetSetId !== set.sheetSetId), set];
      this.message = `Exported ${set.pageCount} page(s) with ${set.cellCount} cells: ${set.pdfPath}`;
      void this.session.refreshExperiments();
      await this.showExported(set, 1);
    }
  }

  /** Page `page` of an exported set, from its PNG and manifest (real size from the manifest). */
  async showExported(set: SheetSet, page: number): Promise<void> {
    const request = ++this.#viewRequest;
    const ids = { experimentId: set.experimentId, sheetSetId: set.sheetSetId, page };
    const files = await this.session.guard(() => Promise.all([this.session.api.sheets.file({ ...ids, file: 'png' }), this.session.api.sheets.file({ ...ids, file: 'manifest' })]));
    if (!files || request !== this.#viewRequest) return;
    const [png, manifestFile] = files;
    const manifest = JSON.parse(new TextDecoder().decode(base64ToBytes(manifestFile.base64))) as SheetManifest;
    this.shown = { set, page, png: `data:image/png;base64,${png.base64}`, pageMm: manifest.geometry.pageMm, sheetId: manifest.sheetId };
  }

  async download(set: SheetSet, file: 'pdf' | 'png' | 'manifests', page = 1): Promise<void> {
    const bytes = await this.session.guard(() => this.session.api.sheets.file({ experimentId: set.experimentId, sheetSetId: set.sheetSetId, file, page }));
    if (bytes) downloadFile(bytes);
  }

  async print(set: SheetSet): Promise<void> {
    const native = hostPrintSheet();
    if (native) {
      // Electron prints the exported PDF itself (exact size), through the system's print dialog.
      const sent = await this.session.guard(async () => {
        await native({ experimentId: set.experimentId, sheetSetId: set.sheetSetId });
        return true;
      });
      if (sent) this.message = 'Sent to the print dialog: print at 100% ("actual size").';
      return;
    }
    const bytes = await this.session.guard(() => this.session.api.sheets.file({ experimentId: set.experimentId, sheetSetId: set.sheetSetId, file: 'pdf' }));
    if (!bytes) return;
    if (!openForPrinting(bytes)) {
      downloadFile(bytes);
      this.message = 'The PDF was downloaded: print it at 100% ("actual size"), not "fit to page".';
    } else {
      this.message = 'The PDF opened in a new tab: print it at 100% ("actual size"), not "fit to page".';
    }
  }
}
