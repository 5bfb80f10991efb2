/**
 * Print survival: how likely an adversarial example is to stay adversarial through the printer and
 * the camera, estimated as Athalye et al. ("Synthesizing robust adversarial examples", ICML 2018)
 * measure robustness: the share of sampled transformations under which the model still gets it
 * wrong (targeted: still takes it for the target). The transformations are the EOT channel's
 * (eot-channel.ts), drawn fresh for this estimate from their own seeded streams, so an EOT attack is
 * not scored on the very draws it was optimised against; the image scored is the 8-bit one, which is
 * what a sheet prints.
 *
 * It tells a researcher before printing which examples are worth the paper: on the built-in LeNet
 * at ε 0.1 (300 digits, 64 draws of the default channel, two simulated photos per sheet), no BIM cell
 * estimated at 0.5 or more was destroyed by the simulated camera (86 photos) and 3.5% of those below
 * 0.25 survived it; for BIM+EOT-16, 100% of the cells at 0.75 or more and none below 0.25 (README).
 */
import * as tf from '@tensorflow/tfjs';
import type { Classifier } from '../engine/classifier.js';
import { defaultChannelProfile } from '../physical/channel-profile.js';
import type { ChannelProfile } from '../physical/channel-profile.js';
import type { ViewCriterion } from './adversarial-view.js';
import { DEFAULT_EOT_CELL_MM, eotAdversarialDraws } from './eot.js';
import type { SurvivalOptions } from './types.js';

/** Salt of the survival draws' streams ('SRV'), apart from EOT's and PGD's. */
const SURVIVAL_STREAM = 0x535256;

export interface ResolvedSurvival {
  draws: number;
  channel: ChannelProfile;
  cellMm: number;
}

/** Survival options with the defaults filled in: the EOT attack's channel and cell where it runs one. */
export function resolveSurvival(survival: SurvivalOptions, eot?: { channel: ChannelProfile; cellMm: number }): ResolvedSurvival {
  return {
    draws: survival.draws,
    channel: survival.channel ?? eot?.channel ?? defaultChannelProfile(),
    cellMm: survival.cellMm ?? eot?.cellMm ?? DEFAULT_EOT_CELL_MM,
  };
}

/**
 * Per image of `images` (the 8-bit adversarial images of a chunk, NHWC, its first image at global
 * index `firstImageIndex`): the share of `s.draws` transformations under which it stays adversarial
 * as `criterion` judges success. Image i's draws come from (seed, firstImageIndex + i) alone, so a
 * batch split across chunks or workers gets the same estimate.
 */
export function estimateSurvival(
  classifier: Classifier,
  images: Float32Array,
  criterion: ViewCriterion,
  s: ResolvedSurvival,
  seed: number,
  firstImageIndex: number,
): Float32Array {
  const n = criterion.labels.length;
  if (n === 0) return new Float32Array(0);
  const classes = criterion.targeted ? criterion.targets! : criterion.labels;
  const x = tf.tensor4d(images, [n, ...classifier.inputShape]);
  try {
    const settings = { samples: s.draws, channel: s.channel, cellMm: s.cellMm, seed, firstImageIndex, restart: 0, stream: SURVIVAL_STREAM };
    const counts = eotAdversarialDraws(classifier, x, classes, criterion.targeted, settings, 0);
    for (let i = 0; i < n; i++) counts[i] /= s.draws;
    return counts;
  } finally {
    x.dispose();
  }
}
