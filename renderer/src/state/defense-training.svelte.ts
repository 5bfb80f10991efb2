/**
 * The training form of the Defenses screen: method and its hyper-parameters, the live per-epoch
 * history (onTrainingEpoch) for the chart, and the job (progress, cancel). A trained model is added
 * to the session's model list, so every model picker offers it at once.
 */
import type { FoolprintApi } from '../../../app/api/client.js';
import type { ModelInfo } from '../../../app/api/models.js';
import type { EpochRecordInfo, TrainingParams } from '../../../app/api/training.js';
import { JobProgress } from './job.svelte.js';

export type Method = 'plain' | 'adversarial' | 'distilled';

export class DefenseTraining {
  name = $state('LeNet, adversarially trained');
  method = $state<Method>('adversarial');
  architecture = $state<'lenet' | 'mlp'>('lenet');
  width = $state(1);
  epochs = $state(10);
  seed = $state(1);
  attack = $state<'pgd' | 'fgsm-rs'>('fgsm-rs');
  epsilon = $state(0.3);
  steps = $state(7);
  epsilonRampEpochs = $state(2);
  adversarialFraction = $state(1);
  temperature = $state(100);
  augment = $state(true);
  /** Empty: the mnist package's training digits; else a dataset folder or IDX file on the host. */
  datasetPath = $state('');
  /** Per-epoch records of the running (or last) job. */
  history = $state.raw<EpochRecordInfo[]>([]);
  trained = $state.raw<ModelInfo | null>(null);
  readonly job: JobProgress;

  constructor(
    private readonly api: FoolprintApi,
    private readonly onTrained: (model: ModelInfo) => void = () => {},
  ) {
    this.job = new JobProgress(api);
  }

  params(): TrainingParams {
    return {
      method: this.method,
      architecture: this.architecture,
      width: this.width,
      epochs: this.epochs,
      seed: this.seed,
      augment: this.augment,
      ...(this.method === 'adversarial'
        ? { attack: this.attack, epsilon: this.epsilon, steps: this.attack === 'pgd' ? this.steps : 1, epsilonRampEpochs: this.epsilonRampEpochs, adversarialFraction: this.adversarialFraction }
        : {}),
      ...(this.method === 'distilled' ? { temperature: this.temperature } : {}),
    };
  }

  async start(): Promise<void> {
    this.history = [];
    this.trained = null;
    const data = this.datasetPath.trim() === '' ? { kind: 'mnist-package' as const } : { kind: 'dataset' as const, path: this.datasetPath.trim() };
    const off = this.api.onTrainingEpoch((event) => {
      if (event.jobId === this.job.jobId) this.history = [...this.history, event.record];
    });
    try {
      const result = await this.job.run('training', `Training ${this.name} (${this.method})`, () => this.api.training.start({ name: this.name, data, params: this.params() }));
      if (result) {
        // The job's own history is complete even if an event was missed while the page reconnected.
        this.history = result.history;
        this.trained = result.model;
        this.onTrained(result.model);
      }
    } finally {
      off();
    }
  }
}
