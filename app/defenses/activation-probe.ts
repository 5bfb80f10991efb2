/**
 * Reads a late ReLU layer of a TF.js Layers model, for the SafetyNet detector. The layer's output is
 * taken on the same preprocessed input the classifier sees, flattened per image.
 */
import * as tf from '@tensorflow/tfjs';
import type { ActivationProbe } from './safetynet.js';
import { DetectorError } from './safetynet.js';

function isRelu(layer: tf.layers.Layer): boolean {
  const config = layer.getConfig() as { activation?: unknown };
  return layer.getClassName() === 'ReLU' || config.activation === 'relu';
}

/** The last layer before the output whose output has passed through a ReLU (LeNet: fc1). */
export function lateReluLayer(model: tf.LayersModel): string {
  const candidates = model.layers.slice(0, -1).filter(isRelu);
  const last = candidates[candidates.length - 1];
  if (!last) throw new DetectorError(`model "${model.name}" has no ReLU layer before its output: SafetyNet quantises ReLU activations`);
  return last.name;
}

export function activationProbe(model: tf.LayersModel, preprocess: (x: tf.Tensor4D) => tf.Tensor4D, inputShape: readonly [number, number, number], layerName?: string, batchSize = 256): ActivationProbe {
  const layer = layerName ?? lateReluLayer(model);
  let target: tf.layers.Layer;
  try {
    target = model.getLayer(layer);
  } catch {
    throw new DetectorError(`model "${model.name}" has no layer "${layer}" (layers: ${model.layers.map((l) => l.name).join(', ')})`);
  }
  const outputs = target.output as tf.SymbolicTensor;
  const units = outputs.shape.slice(1).reduce((a: number, b) => a * (b ?? 1), 1);
  const sub = tf.model({ inputs: model.inputs, outputs });
  const size = inputShape[0] * inputShape[1] * inputShape[2];
  return {
    layer,
    units,
    activations(images) {
      const n = images.length / size;
      const out = new Float32Array(n * units);
      for (let start = 0; start < n; start += batchSize) {
        const b = Math.min(batchSize, n - start);
        const values = tf.tidy(() => {
          const x = preprocess(tf.tensor4d(images.subarray(start * size, (start + b) * size), [b, ...inputShape]));
          return (sub.apply(x, { training: false }) as tf.Tensor).reshape([b, units]);
        });
        out.set(values.dataSync(), start * units);
        values.dispose();
      }
      return out;
    },
  };
}
