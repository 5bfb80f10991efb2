import * as tf from '@tensorflow/tfjs';

/**
 * The seed's LeNet (the PyTorch MNIST example the FGSM tutorial attacks), layer for layer:
 *
 *   x = relu(max_pool2d(conv1(x), 2))                  conv1: 10@5x5, valid
 *   x = relu(max_pool2d(conv2_drop(conv2(x)), 2))      conv2: 20@5x5, Dropout2d(0.5)
 *   x = relu(fc1(flatten(x)))                          fc1: 320 → 50
 *   x = fc2(dropout(x))                                fc2: 50 → 10, logits
 *
 * Input 28x28x1 in [0,1] (NHWC, so the flatten order differs from PyTorch's NCHW; the weights are
 * our own, so nothing depends on it). Dropout2d drops whole feature maps: `noiseShape [null,1,1,20]`
 * draws one keep/drop per (image, channel), which is what PyTorch's Dropout2d does. The output is
 * logits: the seed's final log_softmax lives in the loss (softmaxCrossEntropy) instead.
 *
 * Initialisers draw from TF.js's random ops, which take their seed from Math.random when none is
 * given: the training script seeds Math.random to make a run repeatable.
 */
export function createLeNet(width = 1): tf.Sequential {
  // `width` scales every layer's filters and units (Madry et al.'s capacity study: robust training
  // needs more capacity than clean training); 1 is the seed's network.
  return tf.sequential({
    name: width === 1 ? 'lenet' : `lenet_x${width}`,
    layers: [
      tf.layers.conv2d({ name: 'conv1', inputShape: [28, 28, 1], filters: 10 * width, kernelSize: 5, padding: 'valid' }),
      tf.layers.maxPooling2d({ name: 'pool1', poolSize: 2, strides: 2 }),
      tf.layers.reLU({ name: 'relu1' }),
      tf.layers.conv2d({ name: 'conv2', filters: 20 * width, kernelSize: 5, padding: 'valid' }),
      tf.layers.dropout({ name: 'conv2_drop', rate: 0.5, noiseShape: [null as unknown as number, 1, 1, 20 * width] }),
      tf.layers.maxPooling2d({ name: 'pool2', poolSize: 2, strides: 2 }),
      tf.layers.reLU({ name: 'relu2' }),
      tf.layers.flatten({ name: 'flatten' }),
      tf.layers.dense({ name: 'fc1', units: 50 * width, activation: 'relu' }),
      tf.layers.dropout({ name: 'dropout', rate: 0.5 }),
      tf.layers.dense({ name: 'fc2', units: 10 }),
    ],
  });
}
