/**
 * The networks a defense trains from scratch: the seed's LeNet at 1x, 2x or 4x its filters and units
 * (Madry et al.'s capacity study), and a small MLP, a second architecture for the transfer matrix
 * (Papernot et al. 2016, "Transferability in Machine Learning", craft on one family, attack another).
 */
import * as tf from '@tensorflow/tfjs';
import { createLeNet } from '../models/lenet.js';

export const ARCHITECTURES = ['lenet', 'mlp'] as const;
export type Architecture = (typeof ARCHITECTURES)[number];

export interface ArchitectureChoice {
  architecture: Architecture;
  /** LeNet's filter and unit multiplier (1, 2, 4); the MLP's hidden layers are 256·width units. */
  width: number;
}

/** Two hidden ReLU layers of 256·width units on the flattened 28x28 digit, logits out. */
export function createMlp(inputShape: readonly [number, number, number], numClasses: number, width = 1): tf.Sequential {
  return tf.sequential({
    name: width === 1 ? 'mlp' : `mlp_x${width}`,
    layers: [
      tf.layers.flatten({ name: 'flatten', inputShape: [...inputShape] }),
      tf.layers.dense({ name: 'fc1', units: 256 * width, activation: 'relu' }),
      tf.layers.dense({ name: 'fc2', units: 256 * width, activation: 'relu' }),
      tf.layers.dense({ name: 'fc3', units: numClasses }),
    ],
  });
}

/** A fresh network for 28x28x1 digits in [0,1] with `numClasses` logits. */
export function createNetwork(choice: ArchitectureChoice, inputShape: readonly [number, number, number], numClasses: number): tf.Sequential {
  if (choice.architecture === 'mlp') return createMlp(inputShape, numClasses, choice.width);
  if (inputShape[0] !== 28 || inputShape[1] !== 28 || inputShape[2] !== 1 || numClasses !== 10) {
    throw new RangeError(`LeNet takes 28x28 grey images and 10 classes; the data is ${inputShape.join('x')} with ${numClasses} classes (use the MLP, or another data set)`);
  }
  return createLeNet(choice.width);
}

export function describeArchitecture(choice: ArchitectureChoice): string {
  const times = choice.width === 1 ? '' : ` ${choice.width}x`;
  return choice.architecture === 'mlp' ? `MLP${times} (2 hidden layers of ${256 * choice.width})` : `LeNet${times} (the seed's, ${10 * choice.width}/${20 * choice.width} filters, ${50 * choice.width} hidden)`;
}
