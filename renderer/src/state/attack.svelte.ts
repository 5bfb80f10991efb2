/** The Attack screen's state: parameters, the run job, the stored runs, the gallery page, the ε-sweep. */
import type { AttackParams, AttackRun, GalleryPage } from '../../../app/api/attacks.js';
import type { SweepResult } from '../../../app/api/sweeps.js';
import { parseEpsilons } from '../epsilon.js';
import type { EpsilonUnit } from '../epsilon.js';
import { errorMessage } from '../api.js';
import { JobProgress } from './job.svelte.js';
import { ImageSource } from './image-source.svelte.js';
import type { Session } from './session.svelte.js';

export type AttackMethod = AttackParams['method'];

export const METHODS: { id: AttackMethod; name: string; paper: string }[] = [
  { id: 'fgsm', name: 'FGSM (fast)', paper: 'Goodfellow et al. 2015' },
  { id: 'bim', name: 'Basic iterative (BIM)', paper: 'Kurakin et al. 2016' },
  { id: 'll', name: 'Iterative least-likely class', paper: 'Kurakin et al. 2016' },
  { id: 'pgd', name: 'PGD', paper: 'Madry et al. 2018' },
  { id: 'deepfool', name: 'DeepFool', paper: 'Moosavi-Dezfooli et al. 2016' },
];

export class AttackController {
  readonly source = new ImageSource(() => this.session.model?.labels);
  readonly job: JobProgress;
  readonly sweepJob: JobProgress;
  method = $state<AttackMethod>('bim');
  epsilonText = $state('8');
  unit = $state<EpsilonUnit>('levels');
  /** Iterations for BIM/LL/PGD; Kurakin et al. use min(ε+4, 1.25ε) in levels, we let the user choose. */
  steps = $state(10);
  /** Step size in the same unit as ε; 1 level is Kurakin et al.'s α. */
  stepText = $state('1');
  sweepText = $state('0 1 2 4 8 16 32');
  paramError = $state<string | null>(null);
  runs = $state.raw<AttackRun[]>([]);
  runId = $state<string | null>(null);
  gallery = $state.raw<GalleryPage | null>(null);
  galleryOffset = $state(0);
  galleryEpsilon = $state<number | null>(null);
  sweep = $state.raw<SweepResult | null>(null);
  readonly pageSize = 12;

  readonly run = $derived(this.runs.find((r) => r.runId === this.runId) ?? null);

  constructor(private readonly session: Session) {
    this.job = new JobProgress(session.api);
    this.sweepJob = new JobProgress(session.api);
  }

  params(epsilonText: string): AttackParams | null {
    this.paramError = null;
    try {
      const epsilons = parseEpsilons(epsilonText, this.unit);
      const params: AttackParams = { method: this.method, epsilons };
      if (this.method === 'bim' || this.method === 'll' || this.method === 'pgd') {
        const step = parseEpsilons(this.stepText, this.unit)[0];
        if (!(step > 0)) throw new Error('the step size must be above 0');
        params.steps = this.steps;
        params.stepSize = step;
      }
      return params;
    } catch (error) {
      this.paramError = errorMessage(error);
      return null;
    }
  }

  async loadRuns(): Promise<void> {
    const experimentId = this.session.experimentId;
    if (!experimentId) return;
    const runs = await this.session.guard(() => this.session.api.attacks.list({ experimentId }));
    if (runs) {
      this.runs = runs;
      if (!this.runId && runs.length > 0) await this.showRun(runs[runs.length - 1].runId);
    }
  }

  async start(): Promise<void> {
    const params = this.params(this.epsilonText);
    const modelId = this.session.modelId;
    if (!params) return;
    if (!modelId) {
      this.paramError = 'Choose a model first (Models screen).';
      return;
    }
    const images = await this.source.selection();
    if (!images) return;
    const experimentId = await this.session.ensureExperiment();
    if (!experimentId) return;
    const run = await this.job.run('attack', `${params.method.toUpperCase()} on ${modelId}`, () => this.session.api.attacks.start({ experimentId, modelId, images, params }));
    if (!run) return;
    this.runs = [...this.runs.filter((r) => r.runId !== run.runId), run];
    await this.showRun(run.runId);
    void this.session.refreshExperiments();
    void this.session.refreshSystem();
  }

  async startSweep(): Promise<void> {
    const params = this.params(this.sweepText);
    const modelId = this.session.modelId;
    if (!params || !modelId) return;
    const images = await this.source.selection();
    if (!images) return;
    const result = await this.sweepJob.run('sweep', `ε-sweep of ${params.method.toUpperCase()}`, () =>
      this.session.api.sweeps.start({ experimentId: this.session.experimentId ?? undefined, modelId, images, params }),
    );
    if (result) this.sweep = result;
  }

  async showRun(runId: string, offset = 0): Promise<void> {
    const experimentId = this.session.experimentId;
    if (!experimentId) return;
    this.runId = runId;
    const page = await this.session.guard(() => this.session.api.attacks.gallery({ experimentId, runId, offset, limit: this.pageSize }));
    if (page) {
      this.gallery = page;
      this.galleryOffset = offset;
      if (this.galleryEpsilon === null || !page.run.epsilons.includes(this.galleryEpsilon)) this.galleryEpsilon = page.run.epsilons[page.run.epsilons.length - 1] ?? null;
    }
  }
}
