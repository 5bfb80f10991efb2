/**
 * The Attack screen's form and work for one experiment (experiment-forms.svelte.ts keeps one per
 * experiment): parameters, the run job, the stored runs, the gallery page, the ε-sweep.
 */
import { z } from 'zod';
import type { AttackParams, AttackRun, GalleryPage } from '../../../app/api/attacks.js';
import type { SweepResult } from '../../../app/api/sweeps.js';
import { PHOTO_EPSILONS } from '../../../app/models/manifest.js';
import { reachesBallEdge, stepSchedule } from '../../../app/attacks/schedule.js';
import { EOT_KEEPS, MAX_MOMENTUM, MAX_SURVIVAL_DRAWS } from '../../../app/attacks/types.js';
import type { EotKeep } from '../../../app/attacks/types.js';
import type { ScheduleChoice, StepSchedule } from '../../../app/attacks/schedule.js';
import { epsilonField, epsilonInLevels, readEpsilons, writeEpsilons } from '../epsilon.js';
import type { EpsilonUnit, EpsilonsRead } from '../epsilon.js';
import { errorMessage } from '../api.js';
import { JobProgress } from './job.svelte.js';
import { ImageSource } from './image-source.svelte.js';
import type { Session } from './session.svelte.js';
import { ChannelProfileError, parseChannelProfile } from '../../../app/physical/channel-profile.js';
import type { ChannelProfile } from '../../../app/physical/channel-profile.js';
import type { ChannelProfileInfo } from '../../../app/api/calibration.js';

export type AttackMethod = AttackParams['method'];

export const METHODS: { id: AttackMethod; name: string; paper: string }[] = [
  { id: 'fgsm', name: 'FGSM (fast)', paper: 'Goodfellow et al. 2015' },
  { id: 'bim', name: 'Basic iterative (BIM)', paper: 'Kurakin et al. 2016' },
  { id: 'll', name: 'Iterative least-likely class', paper: 'Kurakin et al. 2016' },
  { id: 'pgd', name: 'PGD', paper: 'Madry et al. 2018' },
  { id: 'deepfool', name: 'DeepFool', paper: 'Moosavi-Dezfooli et al. 2016' },
];

/** "BIM", "Least-likely", … as progress texts and headings name a method. */
export const methodTitle = (method: AttackMethod): string => (method === 'll' ? 'Least-likely' : method.toUpperCase());

export const isIterative = (method: AttackMethod): boolean => method === 'bim' || method === 'll' || method === 'pgd';

/** What the form holds, as kept in the tab's sessionStorage so a reload shows the same form. */
const attackFormSchema = z.object({
  method: z.enum(['fgsm', 'bim', 'll', 'pgd', 'deepfool']),
  epsilons: z.string().nullable(),
  unit: z.enum(['levels', 'unit']).nullable(),
  sweep: z.string().nullable(),
  steps: z.number().int().positive().nullable(),
  step: z.string(),
  images: z.object({ kind: z.enum(['samples', 'dataset', 'files']), offset: z.number(), limit: z.number(), datasetPath: z.string() }),
  // Forms kept before "robust to print" existed read as plain attacks.
  robust: z.boolean().default(false),
  eotSamples: z.number().int().min(1).max(1024).default(16),
  eotKeep: z.enum(EOT_KEEPS).default('last'),
  eotRefine: z.number().int().min(0).max(10_000).default(0),
  momentum: z.string().default(''),
  survival: z.boolean().default(false),
  survivalDraws: z.number().int().min(1).max(MAX_SURVIVAL_DRAWS).default(64),
});
export type AttackForm = z.infer<typeof attackFormSchema>;

export class AttackController {
  readonly source = new ImageSource(() => this.session.model?.labels);
  readonly job: JobProgress;
  readonly sweepJob: JobProgress;
  /** The experiment this form belongs to; null until the user creates one. */
  experimentId = $state<string | null>(null);
  method = $state<AttackMethod>('bim');
  /** What the user typed; null follows the chosen model's suggested ε (its manifest, else its input kind). */
  private typedEpsilons = $state<string | null>(null);
  private chosenUnit = $state<EpsilonUnit | null>(null);
  private typedSweep = $state<string | null>(null);
  /** Iterations for BIM/LL/PGD; null runs the method's own default per ε (Kurakin et al.: min(ε+4, 1.25ε) levels). */
  steps = $state<number | null>(null);
  /** Step size, read like ε; empty runs the method's default (BIM/LL 1 level, PGD 2.5ε/steps). */
  stepText = $state('');
  /** Momentum μ for BIM/LL/PGD (MI-FGSM); empty or 0: none. */
  momentumText = $state('');
  paramError = $state<string | null>(null);
  /** "Robust to print": Expectation over Transformation over `eotSamples` channel draws per step (BIM, LL, PGD). */
  robust = $state(false);
  eotSamples = $state(16);
  /** Which iterate a robust run returns: the last, or per image the one fooled by the most of its step's samples. */
  eotKeep = $state<EotKeep>('last');
  /** Extra steps for the examples that fool the model but not all of a step's samples (0: none). */
  eotRefine = $state(0);
  /** Estimate each example's print survival over `survivalDraws` channel draws (any method). */
  estimateSurvival = $state(false);
  survivalDraws = $state(64);
  /** The channel profile chosen (from the workspace's calibrated ones or a file); null samples the default channel. */
  channel = $state.raw<ChannelProfile | null>(null);
  channelError = $state<string | null>(null);
  /** The workspace's calibrated profiles (saved by calibration), offered beside the default channel. */
  profiles = $state.raw<ChannelProfileInfo[]>([]);
  /** Which channel the list shows: 'default', a workspace profile's id, or 'file' (read from a file). */
  channelChoice = $state<string>('default');
  runs = $state.raw<AttackRun[]>([]);
  runId = $state<string | null>(null);
  gallery = $state.raw<GalleryPage | null>(null);
  galleryOffset = $state(0);
  galleryEpsilon = $state<number | null>(null);
  sweep = $state.raw<SweepResult | null>(null);
  /** Counts finished attacks: the screen moves focus to the result heading when it grows. */
  finishedAttacks = $state(0);
  readonly pageSize = 12;

  readonly run = $derived(this.runs.find((r) => r.runId === this.runId) ?? null);
  /** The chosen model's suggested ε as the form writes it (assigned in the constructor, once `session` is set). */
  private readonly modelField: { text: string; unit: EpsilonUnit };

  get epsilonText(): string {
    return this.typedEpsilons ?? this.modelField.text;
  }
  set epsilonText(text: string) {
    this.typedEpsilons = text;
  }
  get unit(): EpsilonUnit {
    return this.chosenUnit ?? this.modelField.unit;
  }
  set unit(unit: EpsilonUnit) {
    // Choosing a unit makes the ε text the user's: it stops following the model's default.
    this.typedEpsilons = this.epsilonText;
    this.chosenUnit = unit;
  }
  get sweepText(): string {
    // From clean to the model's largest suggested ε, written in the unit now chosen.
    return this.typedSweep ?? `0 ${writeEpsilons(this.session.model?.suggestedEpsilons ?? PHOTO_EPSILONS, this.unit)}`;
  }
  set sweepText(text: string) {
    this.typedSweep = text;
  }

  /** How the ε field reads right now, or why it cannot be read. */
  readonly reading = $derived.by((): { read: EpsilonsRead; error: null } | { read: null; error: string } => {
    try {
      return { read: readEpsilons(this.epsilonText, this.unit), error: null };
    } catch (error) {
      return { read: null, error: errorMessage(error) };
    }
  });

  /** The user's steps and step size; undefined where the method's default applies. */
  private readonly choice = $derived.by((): ScheduleChoice => {
    const choice: ScheduleChoice = {};
    if (this.steps !== null && Number.isInteger(this.steps) && this.steps > 0) choice.steps = this.steps;
    if (this.stepText.trim()) {
      try {
        choice.stepSize = readEpsilons(this.stepText, this.unit).values[0];
      } catch {
        // Reported when the attack starts; the preview keeps the default meanwhile.
      }
    }
    return choice;
  });

  /** Per ε the steps and α the attack will run (the same function the attack calls). */
  readonly schedules = $derived.by((): { epsilon: number; schedule: StepSchedule }[] => {
    if (!isIterative(this.method) || !this.reading.read) return [];
    return this.reading.read.values.map((epsilon) => ({ epsilon, schedule: stepSchedule(this.method, epsilon, this.choice)! }));
  });

  /** "auto (20 at ε 16)": the default the steps field stands for while empty. */
  readonly stepsPlaceholder = $derived.by(() => {
    const last = this.schedules.at(-1);
    if (!last) return 'auto';
    const auto = stepSchedule(this.method, last.epsilon, { stepSize: this.choice.stepSize })!;
    return this.method === 'pgd' ? `auto (${auto.steps})` : `auto (${auto.steps} at ε ${epsilonInLevels(last.epsilon)})`;
  });

  readonly stepPlaceholder = $derived(this.method === 'pgd' ? 'auto (2.5ε/steps)' : 'auto (1 level)');

  /** Where steps × step size stays below ε, the L∞ ball's edge is out of reach. */
  readonly scheduleWarning = $derived.by(() => {
    const short = this.schedules.find(({ epsilon, schedule }) => !reachesBallEdge(epsilon, schedule));
    if (!short) return null;
    const { epsilon, schedule } = short;
    return `At ε ${epsilonInLevels(epsilon)} the ${schedule.steps} steps of ${epsilonInLevels(schedule.stepSize)}/255 move a pixel by at most ${epsilonInLevels(schedule.steps * schedule.stepSize)} levels: the edge of the ε-ball is out of reach. Leave steps empty for the method's own schedule, or raise steps or the step size.`;
  });

  constructor(
    private readonly session: Session,
    experimentId: string | null,
  ) {
    this.experimentId = experimentId;
    this.modelField = $derived(epsilonField(this.session.model?.suggestedEpsilons ?? PHOTO_EPSILONS));
    this.job = new JobProgress(session.api);
    this.sweepJob = new JobProgress(session.api);
  }

  get form(): AttackForm {
    const { kind, offset, limit, datasetPath } = this.source;
    return {
      method: this.method,
      epsilons: this.typedEpsilons,
      unit: this.chosenUnit,
      sweep: this.typedSweep,
      steps: this.steps,
      step: this.stepText,
      robust: this.robust,
      eotSamples: this.eotSamples,
      eotKeep: this.eotKeep,
      eotRefine: this.eotRefine,
      momentum: this.momentumText,
      survival: this.estimateSurvival,
      survivalDraws: this.survivalDraws,
      // Dropped files cannot be kept (nor a workspace dataset, which this screen does not offer): the form falls back to the samples.
      images: { kind: kind === 'files' || kind === 'workspace' ? 'samples' : kind, offset, limit, datasetPath },
    };
  }

  /** Restores a kept form; anything unreadable (an older layout, a hand edit) is ignored. */
  restore(stored: unknown): void {
    const parsed = attackFormSchema.safeParse(stored);
    if (!parsed.success) return;
    const form = parsed.data;
    this.method = form.method;
    this.typedEpsilons = form.epsilons;
    this.chosenUnit = form.unit;
    this.typedSweep = form.sweep;
    this.steps = form.steps;
    this.stepText = form.step;
    this.robust = form.robust;
    this.eotSamples = form.eotSamples;
    this.eotKeep = form.eotKeep;
    this.eotRefine = form.eotRefine;
    this.momentumText = form.momentum;
    this.estimateSurvival = form.survival;
    this.survivalDraws = form.survivalDraws;
    Object.assign(this.source, form.images);
  }

  /** This form now belongs to the experiment just created from it. */
  moveTo(experimentId: string): void {
    this.experimentId = experimentId;
  }

  params(epsilonText: string): AttackParams | null {
    this.paramError = null;
    try {
      const epsilons = readEpsilons(epsilonText, this.unit).values;
      const params: AttackParams = { method: this.method, epsilons };
      if (isIterative(this.method)) {
        if (this.steps !== null) {
          if (!Number.isInteger(this.steps) || this.steps < 1) throw new Error('Steps must be a whole number of at least 1, or empty for the method’s own schedule.');
          params.steps = this.steps;
        }
        if (this.stepText.trim()) {
          const step = readEpsilons(this.stepText, this.unit).values[0];
          if (!(step > 0)) throw new Error('The step size must be above 0.');
          params.stepSize = step;
        }
        if (this.momentumText.trim()) {
          const momentum = Number(this.momentumText.trim());
          if (!(momentum >= 0 && momentum <= MAX_MOMENTUM)) throw new Error(`Momentum must be a number from 0 to ${MAX_MOMENTUM} (1 in Dong et al.), or empty for none.`);
          if (momentum > 0) params.momentum = momentum;
        }
        if (this.robust) {
          if (!Number.isInteger(this.eotSamples) || this.eotSamples < 1 || this.eotSamples > 1024) throw new Error('Samples per step must be a whole number from 1 to 1024.');
          if (!Number.isInteger(this.eotRefine) || this.eotRefine < 0 || this.eotRefine > 10_000) throw new Error('Extra steps must be a whole number from 0 to 10000.');
          params.eot = {
            samples: this.eotSamples,
            ...(this.channel ? { channel: this.channel } : {}),
            ...(this.eotKeep === 'last' ? {} : { keep: this.eotKeep }),
            ...(this.eotRefine > 0 ? { refine: this.eotRefine } : {}),
          };
        }
      }
      if (this.estimateSurvival) {
        if (!Number.isInteger(this.survivalDraws) || this.survivalDraws < 1 || this.survivalDraws > MAX_SURVIVAL_DRAWS) throw new Error(`Survival draws must be a whole number from 1 to ${MAX_SURVIVAL_DRAWS}.`);
        // A robust run's estimate samples its EOT channel; otherwise the channel chosen here.
        params.survival = { draws: this.survivalDraws, ...(this.channel && !params.eot ? { channel: this.channel } : {}) };
      }
      return params;
    } catch (error) {
      this.paramError = errorMessage(error);
      return null;
    }
  }

  /** Reads a channel profile file (foolprint calibrate writes one); a bad file keeps the previous channel and says why. */
  async chooseChannel(file: File | null | undefined): Promise<void> {
    this.channelError = null;
    if (!file) {
      this.channel = null;
      this.channelChoice = 'default';
      return;
    }
    try {
      this.channel = parseChannelProfile(await file.text(), file.name);
      this.channelChoice = 'file';
    } catch (error) {
      this.channelError = error instanceof ChannelProfileError ? error.message : errorMessage(error);
    }
  }

  /** The calibrated profiles of the workspace, listed when the robust-to-print or the print-survival switch is on. */
  async loadProfiles(): Promise<void> {
    const profiles = await this.session.guard(() => this.session.api.calibration.profiles());
    if (profiles) this.profiles = profiles;
  }

  /** Chooses the default channel or a workspace profile by id; a profile that cannot be read keeps the previous channel. */
  async chooseProfile(choice: string): Promise<void> {
    this.channelError = null;
    if (choice === 'file') return;
    if (choice === 'default') {
      this.channel = null;
      this.channelChoice = 'default';
      return;
    }
    const previous = this.channelChoice;
    this.channelChoice = choice;
    const profile = await this.session.guard(() => this.session.api.calibration.profile({ profileId: choice }));
    if (profile && this.channelChoice === choice) this.channel = profile;
    else if (!profile) this.channelChoice = previous;
  }

  /** The host's running attack and sweep of this experiment, if this form is not following them yet. */
  async resumeJobs(): Promise<void> {
    const experimentId = this.experimentId;
    await Promise.all([
      this.job.resume('attack', experimentId).then((run) => (run ? this.finished(run) : undefined)),
      this.sweepJob.resume('sweep', experimentId).then((sweep) => {
        if (sweep) this.sweep = sweep;
      }),
    ]);
  }

  async loadRuns(): Promise<void> {
    const experimentId = this.experimentId;
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
    // With no experiment open the button says it creates one: the user asked for it.
    const experimentId = this.experimentId ?? (await this.session.createExperiment(`Experiment ${new Date().toISOString().slice(0, 16).replace('T', ' ')}`));
    if (!experimentId) return;
    const modelName = this.session.model?.name ?? modelId;
    const run = await this.job.run('attack', `${methodTitle(params.method)} on ${modelName}`, () => this.session.api.attacks.start({ experimentId, modelId, images, params }));
    if (run) await this.finished(run);
  }

  private async finished(run: AttackRun): Promise<void> {
    if (run.experimentId !== this.experimentId) return;
    this.runs = [...this.runs.filter((r) => r.runId !== run.runId), run];
    await this.showRun(run.runId);
    this.finishedAttacks++;
    void this.session.refreshExperiments();
    void this.session.refreshSystem();
  }

  async startSweep(): Promise<void> {
    const params = this.params(this.sweepText);
    const modelId = this.session.modelId;
    if (!params || !modelId) return;
    const images = await this.source.selection();
    if (!images) return;
    const modelName = this.session.model?.name ?? modelId;
    const result = await this.sweepJob.run('sweep', `${methodTitle(params.method)} ε-sweep on ${modelName}`, () =>
      this.session.api.sweeps.start({ experimentId: this.experimentId ?? undefined, modelId, images, params }),
    );
    if (result) this.sweep = result;
  }

  async showRun(runId: string, offset = 0): Promise<void> {
    const experimentId = this.experimentId;
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
