import * as tf from '@tensorflow/tfjs';

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
 * The forward pass of a plain convolutional `tf.Sequential` (the built-in models: `createLeNet()`,
 * `createFashionCnn()`) written out with `conv2dValid`, so it can be trained on WASM; `training`
 * turns its dropouts on (a dropout's noiseShape, e.g. Dropout2d's [null,1,1,C], is kept). In
 * inference mode it equals `model.apply(x)`. Layers it cannot write out are refused by name.
 */
export function trainingLogits(model: tf.Sequential, x: tf.Tensor4D, training: boolean): tf.Tensor2D {
  const n = x.shape[0];
  let h: tf.Tensor = x;
  model.layers.forEach((layer, index) => {
    const config = layer.getConfig() as Record<string, unknown>;
    const weights = layer.getWeights();
    const activate = (t: tf.Tensor): tf.Tensor => {
      const activation = config.activation ?? 'linear';
      if (activation === 'linear') return t;
      if (activation === 'relu') return tf.relu(t);
      throw new Error(`trainingLogits: activation ${String(activation)} of layer ${layer.name} is not supported`);
    };
    switch (layer.getClassName()) {
      case 'Conv2D': {
        const strides = config.strides as number[];
        const dilation = config.dilationRate as number[];
        if (config.padding !== 'valid' || strides.some((s) => s !== 1) || dilation.some((d) => d !== 1)) {
          throw new Error(`trainingLogits: ${layer.name} must be a valid, stride-1, undilated convolution`);
        }
        // The first layer's input gradient is never needed: skip its transposed convolution.
        h = conv2dValid(h as tf.Tensor4D, weights[0] as tf.Tensor4D, index > 0);
        if (weights.length > 1) h = tf.add(h, weights[1]);
        h = activate(h);
        break;
      }
      case 'MaxPooling2D': {
        const pool = config.poolSize as [number, number];
        const strides = (config.strides as [number, number] | null) ?? pool;
        h = tf.maxPool(h as tf.Tensor4D, pool, strides, config.padding as 'valid' | 'same');
        break;
      }
      case 'ReLU':
        h = tf.relu(h);
        break;
      case 'Dropout': {
        if (!training) break;
        const shape = config.noiseShape as (number | null)[] | null;
        h = tf.dropout(h, config.rate as number, shape ? shape.map((d, i) => d ?? h.shape[i]) : undefined);
        break;
      }
      case 'Flatten':
        h = tf.reshape(h, [n, -1]);
        break;
      case 'Dense':
        h = tf.matMul(h as tf.Tensor2D, weights[0] as tf.Tensor2D);
        if (weights.length > 1) h = tf.add(h, weights[1]);
        h = activate(h);
        break;
      default:
        throw new Error(`trainingLogits: layer ${layer.name} (${layer.getClassName()}) is not supported`);
    }
  });
  return h as tf.Tensor2D;
}
