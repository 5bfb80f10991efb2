/**
 * What every screen shares: the API, the open experiment, the chosen model, the list of both, the tab
 * in view (mirrored in the address by router.svelte.ts) and each experiment's screen forms
 * (experiment-forms.svelte.ts). Errors of shared calls land in `error`, shown by the app shell.
 */
import type { FoolprintApi } from '../../../app/api/client.js';
import type { ExperimentInfo } from '../../../app/api/experiments.js';
import type { ModelInfo } from '../../../app/api/models.js';
import type { SystemInfo } from '../../../app/api/system.js';
import { errorMessage } from '../api.js';
import type { Route, Tab } from '../route.js';
import { ExperimentForms } from './experiment-forms.svelte.js';

export { TABS } from '../route.js';
export type { Tab } from '../route.js';

const unknownExperiment = (id: string): string => `The experiment "${id}" is no longer in the workspace: open another one.`;

export class Session {
  tab = $state<Tab>('experiments');
  system = $state.raw<SystemInfo | null>(null);
  experiments = $state.raw<ExperimentInfo[]>([]);
  experimentId = $state<string | null>(null);
  models = $state.raw<ModelInfo[]>([]);
  modelId = $state<string | null>(null);
  error = $state<string | null>(null);
  /** Set once the first lists have arrived: the UI is interactive (the cold-start benchmark waits for it). */
  ready = $state(false);

  readonly experiment = $derived(this.experiments.find((e) => e.id === this.experimentId) ?? null);
  readonly model = $derived(this.models.find((m) => m.id === this.modelId) ?? null);
  /** Each experiment's Attack, Print, Capture and Compare forms, kept while the user looks elsewhere. */
  readonly forms: ExperimentForms;

  constructor(
    readonly api: FoolprintApi,
    readonly host: 'electron' | 'browser',
  ) {
    this.forms = new ExperimentForms(this);
  }

  async start(): Promise<void> {
    await this.guard(async () => {
      const [system, experiments, models] = await Promise.all([this.api.system.info(), this.api.experiments.list(), this.api.models.list()]);
      this.system = system;
      this.experiments = experiments;
      this.models = models;
      this.modelId ??= models[0]?.id ?? null;
      // An address (or the last session) may name an experiment that is gone since.
      if (this.experimentId !== null) {
        if (experiments.some((e) => e.id === this.experimentId)) this.useExperimentModel();
        else {
          this.error = unknownExperiment(this.experimentId);
          this.experimentId = null;
        }
      }
    });
    this.ready = true;
  }

  async refreshExperiments(): Promise<void> {
    await this.guard(async () => {
      this.experiments = await this.api.experiments.list();
    });
  }

  /** After compute ran: the backend in use is known only once a model's pool has started. */
  async refreshSystem(): Promise<void> {
    await this.guard(async () => {
      [this.system, this.models] = await Promise.all([this.api.system.info(), this.api.models.list()]);
    });
  }

  async refreshModels(): Promise<void> {
    await this.guard(async () => {
      this.models = await this.api.models.list();
    });
  }

  /** Creates an experiment and opens it; only ever on the user's word (a Create button). */
  async createExperiment(name: string): Promise<string | null> {
    const created = await this.guard(() => this.api.experiments.create({ name, modelId: this.modelId ?? undefined }));
    if (!created) return null;
    this.experiments = [created, ...this.experiments.filter((e) => e.id !== created.id)];
    // What was typed with no experiment open becomes the new experiment's forms.
    if (this.experimentId === null) this.forms.adopt(created.id);
    this.experimentId = created.id;
    return created.id;
  }

  open(experimentId: string): void {
    this.go({ tab: 'attack', experimentId });
  }

  /** Shows a screen of an experiment (a tab click, Back/Forward, a typed address). */
  go(route: Route): void {
    if (this.ready && route.experimentId !== null && !this.experiments.some((e) => e.id === route.experimentId)) {
      this.error = unknownExperiment(route.experimentId);
      route = { ...route, experimentId: null };
    }
    const switched = route.experimentId !== this.experimentId;
    this.experimentId = route.experimentId;
    this.tab = route.tab;
    if (switched) this.useExperimentModel();
  }

  /** The open experiment's model becomes the chosen one, when it is installed. */
  private useExperimentModel(): void {
    const experiment = this.experiments.find((e) => e.id === this.experimentId);
    if (experiment?.modelId && this.models.some((m) => m.id === experiment.modelId)) this.modelId = experiment.modelId;
  }

  /** Runs a call, putting its failure in `error` as one line. */
  async guard<T>(body: () => Promise<T>): Promise<T | undefined> {
    try {
      this.error = null;
      return await body();
    } catch (error) {
      this.error = errorMessage(error);
      return undefined;
    }
  }
}
