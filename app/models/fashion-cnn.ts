import * as tf from '@tensorflow/tfjs';

/**
 * The built-in Fashion-MNIST model: LeNet's shape (app/models/lenet.ts), wider, because clothing
 * needs more filters than digits (a T-shirt, a shirt and a pullover differ in collars, buttons and
 * texture rather than strokes). conv2 is 3x3 rather than LeNet's 5x5: it costs 9/25 as much,
 * which is what let it train in minutes on two shared cores:
 *
 *   conv1 16@5x5 valid → max-pool 2 → ReLU
 *   conv2 32@3x3 valid → Dropout2d(0.1) → max-pool 2 → ReLU
 *   flatten 800 → fc1 128 ReLU → dropout 0.25 → fc2 10 logits
 *
 * Valid, stride-1 convolutions and plain layers only, so `trainingLogits` can train it on the WASM
 * backend. Dropout is light because the run is short (a few epochs on 2 shared cores): it barely
 * overfits in that time. Input 28x28x1 in [0,1], white garment on black, as Fashion-MNIST stores it.
 */
export function createFashionCnn(): tf.Sequential {
  return tf.sequential({
    name: 'fashion_cnn',
    layers: [
      tf.layers.conv2d({ name: 'conv1', inputShape: [28, 28, 1], filters: 16, kernelSize: 5, padding: 'valid' }),
      tf.layers.maxPooling2d({ name: 'pool1', poolSize: 2, strides: 2 }),
      tf.layers.reLU({ name: 'relu1' }),
      tf.layers.conv2d({ name: 'conv2', filters: 32, kernelSize: 3, padding: 'valid' }),
      tf.layers.dropout({ name: 'conv2_drop', rate: 0.1, noiseShape: [null as unknown as number, 1, 1, 32] }),
      tf.layers.maxPooling2d({ name: 'pool2', poolSize: 2, strides: 2 }),
      tf.layers.reLU({ name: 'relu2' }),
      tf.layers.flatten({ name: 'flatten' }),
      tf.layers.dense({ name: 'fc1', units: 128, activation: 'relu' }),
      tf.layers.dropout({ name: 'dropout', rate: 0.25 }),
      tf.layers.dense({ name: 'fc2', units: 10 }),
    ],
  });
}

/** Fashion-MNIST's ten classes, in the order of its label bytes (Xiao, Rasul & Vollgraf, 2017). */
export const FASHION_MNIST_LABELS: readonly string[] = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];
