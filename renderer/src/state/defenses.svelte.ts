/**
 * The Defenses screen's state: which models to compare (each optionally behind an input
 * transformation), the evaluation settings, the running job, and the reports stored in the
 * workspace (defenses.list), newest first.
 */
import type { FoolprintApi } from '../../../app/api/client.js';
import type { DefendedModel, DetectorInfo, RobustnessReportInfo, TransferReportInfo } from '../../../app/api/defenses.js';
import { errorMessage } from '../api.js';
import type { WorkspaceDatasets } from '../../../app/api/samples.js';
import { ImageSource } from './image-source.svelte.js';
import { JobProgress } from './job.svelte.js';

export type TransformChoice = 'none' | 'jpeg' | 'bitDepth' | 'median' | 'printPhoto';

export const TRANSFORM_CHOICES: { value: TransformChoice; label: string }[] = [
  { value: 'none', label: 'none' },
  { value: 'jpeg', label: 'JPEG q75' },
  { value: 'bitDepth', label: '1-bit (feature squeezing)' },
  { value: 'median', label: 'median 2x2 (feature squeezing)' },
  { value: 'printPhoto', label: 'print-and-photo channel' },
];

export interface ModelRow {
  key: number;
  modelId: string;
  transform: TransformChoice;
}

/** A row as the API takes it: the transforms at the strengths the papers use on MNIST. */
export function defendedModel(row: ModelRow): DefendedModel {
  const transform =
    row.transform === 'jpeg' ? { kind: 'jpeg' as const, quality: 75 }
    : row.transform === 'bitDepth' ? { kind: 'bitDepth' as const, bits: 1 }
    : row.transform === 'median' ? { kind: 'median' as const, size: 2 }
    : row.transform === 'printPhoto' ? { kind: 'printPhoto' as const, seed: 0 }
    : undefined;
  return { modelId: row.modelId, ...(transform ? { transform } : {}) };
}

export class DefensesState {
  rows = $state<ModelRow[]>([]);
  attacks = $state<string[]>(['fgsm', 'pgd']);
  epsilons = $state('0, 0.1, 0.2, 0.3');
  transferEpsilon = $state(0.2);
  detectorEpsilon = $state(0.25);
  robustness = $state.raw<RobustnessReportInfo[]>([]);
  transfer = $state.raw<TransferReportInfo[]>([]);
  detectors = $state.raw<DetectorInfo[]>([]);
  error = $state<string | null>(null);
  /** The workspace's datasets, offered in the image picker. */
  workspaceDatasets = $state.raw<WorkspaceDatasets | null>(null);
  readonly job: JobProgress;
  private nextKey = 0;

  /**
   * The images every evaluation here runs on: built-in samples, a dataset on disk (the MNIST test
   * folder by path) or dropped files; labels are matched to the first model's classes.
   */
  readonly source: ImageSource;

  constructor(private readonly api: FoolprintApi, modelLabels: () => readonly string[] | undefined = () => undefined) {
    this.job = new JobProgress(api);
    this.source = new ImageSource(modelLabels);
    this.source.limit = 100;
  }

  addRow(modelId: string, transform: TransformChoice = 'none'): void {
    this.rows = [...this.rows, { key: this.nextKey++, modelId, transform }];
  }

  removeRow(key: number): void {
    this.rows = this.rows.filter((r) => r.key !== key);
  }

  async refresh(): Promise<void> {
    try {
      const listed = await this.api.defenses.list();
      this.robustness = listed.robustness;
      this.transfer = listed.transfer;
      this.detectors = listed.detectors;
      await this.refreshDatasets();
    } catch (error) {
      this.error = errorMessage(error);
    }
  }

  /** The workspace's datasets again: one may have been put in its folder since the screen opened. */
  async refreshDatasets(): Promise<void> {
    try {
      this.workspaceDatasets = await this.api.samples.datasets();
      const paths = this.workspaceDatasets.datasets.map((d) => d.path);
      if (!paths.includes(this.source.workspaceDatasetPath)) this.source.workspaceDatasetPath = paths[0] ?? '';
    } catch (error) {
      this.error = errorMessage(error);
    }
  }

  private parsedEpsilons(): number[] | null {
    const values = this.epsilons.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
    if (values.length === 0 || values.some((v) => !(v >= 0 && v <= 1))) {
      this.error = `ε: a comma list of budgets in [0,1], got "${this.epsilons}"`;
      return null;
    }
    return values;
  }

  async runRobustness(): Promise<void> {
    this.error = null;
    const epsilons = this.parsedEpsilons();
    if (!epsilons) return;
    const params = { models: this.rows.map(defendedModel), attacks: this.attacks as ('fgsm' | 'bim' | 'pgd' | 'deepfool')[], epsilons };
    const images = await this.source.selection();
    if (!images) return;
    const result = await this.job.run('robustness', 'Robust accuracy', () => this.api.defenses.robustness({ images, params }));
    if (result) await this.refresh();
  }

  async runTransfer(): Promise<void> {
    this.error = null;
    const params = { models: this.rows.map(defendedModel), attack: 'pgd' as const, epsilon: this.transferEpsilon, pgdSteps: 20 };
    const images = await this.source.selection();
    if (!images) return;
    const result = await this.job.run('transfer', 'Transfer matrix', () => this.api.defenses.transfer({ images, params }));
    if (result) await this.refresh();
  }

  async runDetector(modelId: string): Promise<void> {
    this.error = null;
    const images = await this.source.selection();
    if (!images) return;
    const result = await this.job.run('detector', 'SafetyNet detector', () =>
      this.api.defenses.detect({ images, params: { modelId, epsilon: this.detectorEpsilon, evaluate: [{ attack: 'bim', epsilon: 0.1 }] } }),
    );
    if (result) await this.refresh();
  }
}
