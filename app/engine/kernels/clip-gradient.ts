import * as tf from '@tensorflow/tfjs';
import type { GradConfig, KernelConfig, NamedAttrMap, Tensor, TensorInfo } from '@tensorflow/tfjs';
import { asKernelFunc, float32View } from './wasm-backend.js';
import type { KernelArgs } from './wasm-backend.js';
import { wasmLoops } from './wasm-loops.js';

/**
 * ClipByValue's gradient (ReLU6 in Layers' reLU({maxValue}) and in MobileNets, ONNX Clip) as one pass
 * on WASM. TF.js writes it as where(x ≥ min ∧ x ≤ max, dy, 0): GreaterEqual, LessEqual, LogicalAnd,
 * ZerosLike and Select, five kernels and four temporaries over every activation, about 96 ms of a
 * 290 ms BIM step per 224x224 image on the MobileNet-style bench model. One loop computes the same
 * values (dy itself where x is inside, +0 elsewhere and where x is NaN), with the bounds rounded to
 * float32 as the scalar tensors the original compares against. Where the WebAssembly loops run
 * (wasm-loops.ts) the loop runs there four values at a time without branches: in JS it cost 44 ms per
 * 224x224 image of the MobileNet-style model's BIM step.
 */
export const CLIP_BY_VALUE_GRAD = 'FoolprintClipByValueGrad';

interface ClipAttrs extends NamedAttrMap {
  clipValueMin: number;
  clipValueMax: number;
}

export const clipByValueGradKernel: KernelConfig = {
  kernelName: CLIP_BY_VALUE_GRAD,
  backendName: 'wasm',
  kernelFunc: asKernelFunc((args: KernelArgs<ClipAttrs>): TensorInfo => {
    const { inputs: { dy, x }, backend, attrs } = args;
    const out = backend.makeOutput(dy.shape, 'float32');
    // Views after makeOutput: allocating may grow the heap and detach views taken before.
    const g = float32View(backend, dy);
    const v = float32View(backend, x);
    const o = float32View(backend, out);
    const lo = Math.fround(attrs.clipValueMin);
    const hi = Math.fround(attrs.clipValueMax);
    const loops = wasmLoops(backend);
    const groups = loops ? Math.floor(o.length / 4) : 0;
    if (loops && groups > 0) {
      const bits = new Int32Array(Float32Array.of(lo, hi).buffer);
      loops.clipGradient(g.byteOffset, v.byteOffset, o.byteOffset, groups, bits[0], bits[1]);
    }
    // The last values (fewer than four) or, without the loops, all of them.
    for (let i = groups * 4; i < o.length; i++) {
      const xi = v[i];
      o[i] = xi >= lo && xi <= hi ? g[i] : 0;
    }
    return out;
  }),
};

/** TF.js's own gradient, kept for other backends and dtypes, and put back by restoreClipGradient. */
let original: GradConfig | undefined;

/** Registers the one-pass gradient (idempotent); other backends keep TF.js's. */
export function registerClipGradient(): void {
  if (original) return;
  const own = tf.getGradient(tf.ClipByValue);
  if (!own?.gradFunc) return;
  original = own;
  const fallback = own.gradFunc;
  tf.registerGradient({
    kernelName: tf.ClipByValue,
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved;
      const single = dy as Tensor;
      const fast = tf.getBackend() === 'wasm' && tf.getKernel(CLIP_BY_VALUE_GRAD, 'wasm') !== undefined &&
        single.dtype === 'float32' && x.dtype === 'float32' && tf.util.arraysEqual(single.shape, x.shape);
      if (!fast) return fallback(dy, saved, attrs);
      return { x: () => tf.engine().runKernel(CLIP_BY_VALUE_GRAD, { dy: single, x }, attrs) as Tensor };
    },
  });
}

/** Puts TF.js's gradient back (for benchmarks and tests that measure the difference). */
export function restoreClipGradient(): void {
  if (!original) return;
  tf.registerGradient(original);
  original = undefined;
}
