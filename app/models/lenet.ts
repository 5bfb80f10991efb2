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

/**
 * A 'valid', stride-1 convolution whose filter gradient is itself a forward convolution, for
 * backends without a Conv2DBackpropFilter kernel (TF.js WASM). With y = x ⋆ w,
 *   ∂L/∂w[kh,kw,ci,co] = Σ_{n,i,j} x[n,i+kh,j+kw,ci] · dy[n,i,j,co],
 * which is conv2d(xᵀ, dyᵀ) with the batch as channels: xᵀ = x transposed to [Ci,H,W,N] (Ci as
 * the batch), dyᵀ = dy transposed to [Hout,Wout,N,Co] (the filter); the [Ci,KH,KW,Co] result
 * transposed back is [KH,KW,Ci,Co]. The input gradient is the usual transposed convolution.
 */
export function conv2dValid(x: tf.Tensor4D, w: tf.Tensor4D, inputGradient = true): tf.Tensor4D {
  const conv = tf.customGrad(((xs: tf.Tensor4D, ws: tf.Tensor4D, save: tf.GradSaveFunc) => {
    save([xs, ws]);
    return {
      value: tf.conv2d(xs, ws, 1, 'valid'),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sx, sw] = saved as [tf.Tensor4D, tf.Tensor4D];
        const dy4 = dy as tf.Tensor4D;
        const dw = tf.transpose(tf.conv2d(tf.transpose(sx, [3, 1, 2, 0]), tf.transpose(dy4, [1, 2, 0, 3]), 1, 'valid'), [1, 2, 0, 3]);
        const dx = inputGradient ? tf.conv2dTranspose(dy4, sw, sx.shape, 1, 'valid') : tf.zerosLike(sx);
        return [dx, dw];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad<tf.Tensor4D>>[0]);
  return conv(x, w) as tf.Tensor4D;
}

/**
 * The forward pass of a `createLeNet()` model written out with `conv2dValid`, so it can be trained
 * on WASM; `training` turns the two dropouts on. In inference mode it equals `model.apply(x)`.
 */
export function leNetLogits(model: tf.Sequential, x: tf.Tensor4D, training: boolean): tf.Tensor2D {
  const weight = (layer: string, i: number) => model.getLayer(layer).getWeights()[i];
  const n = x.shape[0];
  let h = tf.add<tf.Tensor4D>(conv2dValid(x, weight('conv1', 0) as tf.Tensor4D, false), weight('conv1', 1));
  h = tf.relu(tf.maxPool(h, 2, 2, 'valid'));
  h = tf.add<tf.Tensor4D>(conv2dValid(h, weight('conv2', 0) as tf.Tensor4D), weight('conv2', 1));
  if (training) h = tf.dropout(h, 0.5, [n, 1, 1, h.shape[3]]) as tf.Tensor4D;
  h = tf.relu(tf.maxPool(h, 2, 2, 'valid'));
  let f = tf.relu(tf.add<tf.Tensor2D>(tf.matMul(tf.reshape(h, [n, -1]), weight('fc1', 0) as tf.Tensor2D), weight('fc1', 1)));
  if (training) f = tf.dropout(f, 0.5) as tf.Tensor2D;
  return tf.add<tf.Tensor2D>(tf.matMul(f, weight('fc2', 0) as tf.Tensor2D), weight('fc2', 1));
}
