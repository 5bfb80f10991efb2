/**
 * What every screen shares: the API, the open experiment, the chosen model, the list of both, and the
 * tab in view. Errors of shared calls land in `error`, shown by the app shell (never only in a console).
 */
import type { FoolprintApi } from '../../../app/api/client.js';
import type { ExperimentInfo } from '../../../app/api/experiments.js';
import type { ModelInfo } from '../../../app/api/models.js';
import type { SystemInfo } from '../../../app/api/system.js';
import { errorMessage } from '../api.js';

export const TABS = ['experiments', 'models', 'attack', 'print', 'capture', 'compare'] as const;
export type Tab = (typeof TABS)[number];

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

  constructor(
    readonly api: FoolprintApi,
    readonly host: 'electron' | 'browser',
  ) {}

  async start(): Promise<void> {
    await this.guard(async () => {
      const [system, experiments, models] = await Promise.all([this.api.system.info(), this.api.experiments.list(), this.api.models.list()]);
      this.system = system;
      this.experiments = experiments;
      this.models = models;
      this.modelId ??= models[0]?.id ?? null;
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

  async createExperiment(name: string): Promise<void> {
    await this.guard(async () => {
      const created = await this.api.experiments.create({ name, modelId: this.modelId ?? undefined });
      this.experiments = [created, ...this.experiments.filter((e) => e.id !== created.id)];
      this.experimentId = created.id;
    });
  }

  /** The open experiment, creating one when none is open (the Attack screen needs somewhere to store the run). */
  async ensureExperiment(): Promise<string | null> {
    if (!this.experimentId) await this.createExperiment(`Experiment ${new Date().toISOString().slice(0, 16).replace('T', ' ')}`);
    return this.experimentId;
  }

  open(experimentId: string): void {
    this.experimentId = experimentId;
    const experiment = this.experiments.find((e) => e.id === experimentId);
    if (experiment?.modelId && this.models.some((m) => m.id === experiment.modelId)) this.modelId = experiment.modelId;
    this.tab = 'attack';
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
