/**
 * The one call signature every attack shares (after Foolbox 3): data is passed at call time,
 * hyper-parameters are named options with the paper's defaults, and results are always per-ε arrays,
 * even for a single ε. Everything returned is plain, serialisable typed arrays (no tensors), so
 * results cross worker threads, IPC and HTTP unchanged.
 */
import type { ChannelProfile } from '../physical/channel-profile.js';

/** Every attack's name, as the contract's schema and the CLI's help list them. */
export const ATTACK_METHODS = ['fgsm', 'bim', 'll', 'pgd', 'deepfool'] as const;
export type AttackMethod = (typeof ATTACK_METHODS)[number];
/**
 * The objectives a gradient attack can ascend (losses.ts): 'ce' is our cross-entropy with a gradient
 * that does not cancel, 'margin' the C&W logit margin, 'ce-float32' the textbook cross-entropy as other
 * tools compute it (a reference, to reproduce gradient masking; not a recommended attack).
 */
export const ATTACK_LOSSES = ['ce', 'margin', 'ce-float32'] as const;
export type AttackLoss = (typeof ATTACK_LOSSES)[number];
export type Norm = 'linf' | 'l2';
/**
 * Which iterate an EOT attack returns per image: the last, or the one most often adversarial under
 * the transformations sampled for it ('most-robust': Athalye et al.'s expected adversariality).
 */
export const EOT_KEEPS = ['last', 'most-robust'] as const;
export type EotKeep = (typeof EOT_KEEPS)[number];

/** Momentum beyond this only repeats the first steps' direction: a larger value is a typo. */
export const MAX_MOMENTUM = 10;

/**
 * Expectation over Transformation (eot.ts): every step follows the gradient averaged over `samples`
 * print-and-photo transformations drawn from `channel` (default: defaultChannelProfile()), for a cell
 * printed `cellMm` on its longer side (default 30, the sheet layout's default). BIM, LL and PGD.
 */
export interface EotOptions {
  samples: number;
  channel?: ChannelProfile;
  cellMm?: number;
  /**
   * Loss 'margin' only: Carlini & Wagner's confidence κ per draw. Each draw's logit margin is capped
   * at κ, so a transformation the model already misclassifies by κ stops pulling and the steps go to
   * the draws it still gets right (or barely wrong). Absent: no cap.
   */
  confidence?: number;
  /**
   * Which iterate is returned per image (default 'last'). 'most-robust': of the iterates after each
   * step, the one the most draws of its step classify wrong (targeted: as the target), ties to the
   * later; the last iterate is scored by one more forward pass over fresh draws.
   */
  keep?: EotKeep;
  /**
   * Up to this many steps more, after `steps`, for the images that fool the model but not every draw
   * of the channel (the fragile examples a camera destroys): each runs on until all the draws of a
   * step are adversarial, or the extra steps run out; every other image stops at `steps`, so the
   * extra steps make no new adversarial examples, only surer ones. Absent or 0: none.
   */
  refine?: number;
}

/** Survival draws per image at most: the estimate costs one forward pass per draw. */
export const MAX_SURVIVAL_DRAWS = 4096;

/**
 * Print survival (survival.ts): after the attack, each example's 8-bit image goes through `draws`
 * fresh print-and-photo transformations of `channel` (default: the EOT channel when EOT runs, else
 * defaultChannelProfile()), for a cell printed `cellMm` on its longer side (default: the EOT cell,
 * else 30), and the share of draws it stays adversarial under is reported per image: Athalye et al.'s
 * expected adversariality, a prediction of whether the example survives the printer and the camera.
 * The draws are seeded (AttackOptions.seed) apart from the attack's own. Any method.
 */
export interface SurvivalOptions {
  draws: number;
  channel?: ChannelProfile;
  cellMm?: number;
}

/** Untargeted: move away from the true labels. Targeted: move towards `targets`. */
export type Criterion =
  | { kind: 'misclassification' }
  | { kind: 'targeted'; targets: Int32Array };

export interface AttackOptions {
  method: AttackMethod;
  /** Perturbation budgets in [0,1] pixel units (ε = 8/255 means eight grey levels). */
  epsilons: number[];
  criterion?: Criterion;
  loss?: AttackLoss;
  /** Iterative methods: step size α in [0,1] pixel units (BIM/LL default 1/255, PGD default 2.5·ε/steps). */
  stepSize?: number;
  /** Iterative methods: number of steps (BIM/LL default min(ε·255+4, 1.25·ε·255)). */
  steps?: number;
  /** PGD: L∞ or L2 ball. */
  norm?: Norm;
  /** PGD: random restarts (best kept per image). */
  restarts?: number;
  /** PGD: start at a uniformly random point of the ball (default true). */
  randomStart?: boolean;
  /** DeepFool: overshoot η (default 0.02) and iteration cap (default 50); candidate classes (default 10). */
  overshoot?: number;
  maxIterations?: number;
  candidates?: number;
  /** Seed for every random choice (PGD start, EOT draws). */
  seed?: number;
  /** Make the examples robust to print and photo (BIM, LL, PGD); absent: plain attack. */
  eot?: EotOptions;
  /** Estimate each example's print survival (AdversarialView.survival of the 8-bit view); absent: not estimated. */
  survival?: SurvivalOptions;
  /**
   * BIM, LL and PGD: momentum μ (Dong et al. 2018, "Boosting adversarial attacks with momentum",
   * MI-FGSM): every step follows g_t = μ·g_{t−1} + ∇/mean|∇| (per image) instead of the gradient
   * itself. 0 or absent: none (the plain method); 1 is the paper's choice.
   */
  momentum?: number;
  /** Keep adversarial images and perturbations in the result (default true; sweeps turn it off). */
  keepImages?: boolean;
  /** How many top classes to report per image (default 5, at most numClasses). */
  topK?: number;
  /** Images per internal chunk (default 256): bounds memory whatever N is. */
  batchSize?: number;
  /**
   * Global index of the first image (default 0). PGD draws image i's random start from
   * (seed, indexOffset + i), so a batch split across workers gets the same starts as one run.
   */
  indexOffset?: number;
}

/** Top-k predictions of N images: row i holds labels[i*k .. i*k+k) in decreasing probability. */
export interface TopK {
  k: number;
  labels: Int32Array;
  probs: Float32Array;
}

/** One view of the adversarial images: as floats, or as saved to an 8-bit PNG. */
export interface AdversarialView {
  after: TopK;
  /** Per image: the attack succeeded (untargeted: top-1 ≠ true label; targeted: top-1 = target). */
  success: Uint8Array;
  /** Per image: ‖x_adv − x‖∞ and ‖x_adv − x‖₂ in [0,1] pixel units. */
  linf: Float32Array;
  l2: Float32Array;
  /** Per image: top-1 equals the target (targeted and least-likely attacks only). */
  targetHit?: Uint8Array;
  /**
   * 8-bit view with AttackOptions.survival only: per image, the share of the sampled print-and-photo
   * transformations under which the image is still adversarial (as `success` judges it), in [0,1].
   */
  survival?: Float32Array;
}

export interface EpsilonResult {
  epsilon: number;
  float: AdversarialView;
  /** After rounding to 8 bits (round(x·255)/255), the form that is saved and printed. */
  quantized: AdversarialView;
  /** NHWC, [0,1]; present when keepImages. */
  adversarial?: Float32Array;
  /** adversarial − clean, NHWC; present when keepImages. */
  perturbation?: Float32Array;
  /** Iterations actually run per image (DeepFool) or the step count (iterative methods). */
  iterations?: Int32Array;
  /** Iterative methods: the step count and step size α really used at this ε. */
  steps?: number;
  stepSize?: number;
}

export interface AttackResult {
  method: AttackMethod;
  /** The options after defaults were filled in (what was really run). */
  options: AttackOptions;
  /** [N, H, W, C] */
  shape: [number, number, number, number];
  labels: Int32Array;
  /** Targets of a targeted or least-likely attack, per image. */
  targets?: Int32Array;
  before: TopK;
  perEpsilon: EpsilonResult[];
}

export interface AttackProgress {
  /** Work done and total, in image-steps, across all ε. */
  done: number;
  total: number;
  epsilon?: number;
}

/**
 * What runAttack reads of a RunControl: an AbortSignal serves, and so does a plain `{ aborted }` flag
 * (the compute worker's: Node builds an AbortController in about 25 µs, a twentieth of an FGSM call
 * on one image).
 */
export interface AttackControl {
  onProgress?: (p: AttackProgress) => void;
  signal?: { readonly aborted: boolean };
}

/** Progress and cancellation of a host's call (the pools listen to the signal's abort event). */
export interface RunControl extends AttackControl {
  signal?: AbortSignal;
}

export class CancelledError extends Error {
  constructor() {
    super('cancelled');
    this.name = 'CancelledError';
  }
}
