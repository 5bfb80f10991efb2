/**
 * A Sequential model's layers run by their kernels, for logits and for an attack's input gradient.
 *
 * Through tf.grad, every TF.js op of `layer.apply` is a tape node: Layers' bookkeeping, a clone of
 * each saved tensor, and gradient functions for the weights the attack does not want. On LeNet at
 * batch 1 an FGSM runAttack made 126 kernel calls, most of them bookkeeping, and a step cost 2.5
 * times what its arithmetic does. So the layers we know (convolutions, dense, max pooling, ReLU,
 * dropout, flatten) run here as links: off the tape, the kernels `layer.apply` calls; on a tape, one
 * custom-gradient op per run of links, whose backward pass calls the kernels TF.js's own gradients
 * call, in the same order and with the same attributes, for the input only; and for a known
 * gradient of the logits (the cross-entropy step), that backward pass with no tape at all. Every
 * bit of the gradient and of the logits is Layers' and the tape's (test/layer-chain.test.ts compares
 * them on every built-in model and on random chains). The first layer we do not know, and every layer
 * after it, runs through `layer.apply` as before.
 */
import * as tf from '@tensorflow/tfjs';
import { denseProduct } from '../engine/kernels/dense-product.js';
import { reluGradient } from '../engine/kernels/relu-gradient.js';

/**
 * Runs `f` as if no gradient tape were recording: its ops are not taped, and TF.js's fused ops
 * (a convolution or matmul with its bias and activation) fuse as they do outside tf.grad. TF.js
 * decides both from its engine's gradient depth alone (isTapeOn, shouldFuse), which has no setter.
 */
export function offTape<T>(f: () => T): T {
  const state = engineState();
  const depth = state.gradientDepth;
  state.gradientDepth = 0;
  try {
    return f();
  } finally {
    state.gradientDepth = depth;
  }
}

/** Whether a gradient tape is recording (or a custom gradient's forward pass runs under one). */
export function onTape(): boolean {
  return engineState().gradientDepth > 0;
}

/** TF.js's engine state, of which only the gradient depth is read here (it is not public). */
function engineState(): { gradientDepth: number } {
  return (tf.engine() as unknown as { state: { gradientDepth: number } }).state;
}

/** Layers whose output is the same bits on a gradient tape and off it: nothing of theirs unfuses. */
const SAME_ON_TAPE = new Set(['MaxPooling2D', 'AveragePooling2D', 'ReLU', 'Flatten', 'Dropout', 'Reshape']);
/** Layers that fuse their bias and activation into one kernel: unfused on a tape unless linear. */
const FUSED_WEIGHTED = new Set(['Conv2D', 'DepthwiseConv2D', 'Dense']);

function isLinear(activation: unknown): boolean {
  return activation === undefined || activation === null || activation === 'linear';
}

function sameOnTape(layer: tf.layers.Layer): boolean {
  const name = layer.getClassName();
  if (SAME_ON_TAPE.has(name)) return true;
  if (!FUSED_WEIGHTED.has(name)) return false;
  // A linear activation fuses on a tape too (shouldFuse), so the kernel and its sums are the same.
  return isLinear(layer.getConfig().activation);
}

/** dx from dy, given the tensors the forward pass saved for this link (in the order it saved them). */
type Backward = (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor;

/** One layer as the op runs it. */
interface Link {
  /** The same bits on a tape and off it (see sameOnTape). */
  readonly sameOnTape: boolean;
  /**
   * The layer's output as `layer.apply` computes it on a gradient tape, with the tensors `backward`
   * needs passed to `save`.
   */
  taped(x: tf.Tensor, save: (t: tf.Tensor) => void): { y: tf.Tensor; backward: Backward };
  /** The layer's output as `layer.apply` computes it off the tape. */
  untaped(x: tf.Tensor): tf.Tensor;
}

type Pair = [number, number];

function pair(value: unknown): Pair | undefined {
  if (typeof value === 'number') return [value, value];
  if (Array.isArray(value) && value.length === 2 && value.every((v) => typeof v === 'number')) return value as Pair;
  return undefined;
}

/** The layer's kernel and bias variables (Layers' own, read each call: setWeights assigns them in place). */
function weightsOf(layer: tf.layers.Layer, useBias: boolean): { kernel: tf.Tensor; bias: tf.Tensor | undefined } {
  const weights = layer.getWeights();
  return { kernel: weights[0], bias: useBias ? weights[1] : undefined };
}

/**
 * Conv2D as Layers runs it (conv2dWithBiasActivation): tf.fused.conv2d with the activation, which a
 * tape unfuses into conv2d, add and the activation unless it is linear. The input gradient is
 * conv2DBackpropInput of dy through the activation's derivative, in both cases.
 */
function convLink(layer: tf.layers.Layer, config: tf.serialization.ConfigDict): Link | undefined {
  const strides = pair(config.strides);
  const dilations = pair(config.dilationRate);
  const activation = isLinear(config.activation) ? 'linear' : config.activation;
  const pad = config.padding;
  if (!strides || !dilations || config.dataFormat !== 'channelsLast' || (pad !== 'valid' && pad !== 'same')) return undefined;
  // TF.js has no convolution gradient with dilation: leave that model to the tape, which says so.
  if (dilations[0] !== 1 || dilations[1] !== 1) return undefined;
  if (activation !== 'linear' && activation !== 'relu') return undefined;
  const useBias = config.useBias !== false;
  const fused = (x: tf.Tensor, act: 'linear' | 'relu') => {
    const { kernel, bias } = weightsOf(layer, useBias);
    return tf.fused.conv2d({ x: x as tf.Tensor4D, filter: kernel as tf.Tensor4D, strides, pad, dilations, dataFormat: 'NHWC', bias, activation: act });
  };
  const inputGradient = (dy: tf.Tensor, shape: number[]) =>
    tf.conv2dTranspose(dy as tf.Tensor4D, weightsOf(layer, useBias).kernel as tf.Tensor4D, shape as [number, number, number, number], strides, pad);
  return {
    sameOnTape: activation === 'linear',
    untaped: (x) => fused(x, activation),
    taped(x, save) {
      const shape = x.shape;
      if (activation === 'linear') return { y: fused(x, 'linear'), backward: (dy) => inputGradient(dy, shape) };
      // The tape's unfused path (tfjs-core ops/fused/conv2d): conv2d, add the bias, then the ReLU.
      const { kernel, bias } = weightsOf(layer, useBias);
      const summed = tf.conv2d(x as tf.Tensor4D, kernel as tf.Tensor4D, strides, pad, 'NHWC', dilations);
      const z = bias ? tf.add(summed, bias) : summed;
      save(z);
      return { y: tf.relu(z), backward: (dy, [saved]) => inputGradient(reluGradient(dy, saved), shape) };
    },
  };
}

/** The rank of the layer's input in its model, batch included. */
function inputRank(layer: tf.layers.Layer): number | undefined {
  try {
    const input = layer.input;
    return Array.isArray(input) ? undefined : input.shape.length;
  } catch {
    // A layer with several inbound nodes has no single input.
    return undefined;
  }
}

/**
 * Dense on a rank-2 input as Layers runs it (K.dot): tf.fused.matMul with the activation (here its
 * kernel without the reshapes around it, denseProduct), unfused on a tape unless linear. The input gradient is dy (through the ReLU's derivative) times the kernel
 * transposed, as BatchMatMul's and the fused matMul's gradients compute it.
 */
function denseLink(layer: tf.layers.Layer, config: tf.serialization.ConfigDict): Link | undefined {
  const activation = isLinear(config.activation) ? 'linear' : config.activation;
  if (activation !== 'linear' && activation !== 'relu') return undefined;
  // Layers reshapes a higher-rank input around the product: that stays with layer.apply.
  if (inputRank(layer) !== 2) return undefined;
  const useBias = config.useBias !== false;
  const fused = (x: tf.Tensor, act: 'linear' | 'relu') => {
    const { kernel, bias } = weightsOf(layer, useBias);
    return denseProduct(x as tf.Tensor2D, kernel as tf.Tensor2D, bias, act);
  };
  const inputGradient = (dy: tf.Tensor) => tf.matMul(dy as tf.Tensor2D, weightsOf(layer, useBias).kernel as tf.Tensor2D, false, true);
  return {
    sameOnTape: activation === 'linear',
    untaped: (x) => fused(x, activation),
    taped(x, save) {
      if (activation === 'linear') return { y: fused(x, 'linear'), backward: inputGradient };
      // The tape's unfused path (tfjs-core ops/fused/mat_mul): matMul, add the bias, then the ReLU.
      const { kernel, bias } = weightsOf(layer, useBias);
      const product = tf.matMul(x as tf.Tensor2D, kernel as tf.Tensor2D);
      const z = bias ? tf.add(product, bias) : product;
      save(z);
      return { y: tf.relu(z), backward: (dy, [saved]) => inputGradient(reluGradient(dy, saved)) };
    },
  };
}

/** MaxPooling2D as Layers runs it (pool2d): tf.maxPool; its gradient is the MaxPoolGrad kernel. */
function maxPoolLink(config: tf.serialization.ConfigDict): Link | undefined {
  const filterSize = pair(config.poolSize);
  const strides = pair(config.strides) ?? filterSize;
  const pad = config.padding;
  if (!filterSize || !strides || config.dataFormat !== 'channelsLast' || (pad !== 'valid' && pad !== 'same')) return undefined;
  const forward = (x: tf.Tensor) => tf.maxPool(x as tf.Tensor4D, filterSize, strides, pad);
  return {
    sameOnTape: true,
    untaped: forward,
    taped(x, save) {
      const y = forward(x);
      save(x);
      save(y);
      return {
        y,
        // As tfjs-core's MaxPool gradient calls it (maxPoolGrad, no rounding mode).
        backward: (dy, [input, output]) =>
          tf.engine().runKernel('MaxPoolGrad', { dy, input, output }, { filterSize, strides, pad }) as tf.Tensor,
      };
    },
  };
}

/** ReLU (without a ceiling), Flatten and inference-time Dropout. */
function simpleLink(name: string, config: tf.serialization.ConfigDict): Link | undefined {
  if (name === 'ReLU' && (config.maxValue === null || config.maxValue === undefined)) {
    return {
      sameOnTape: true,
      untaped: (x) => tf.relu(x),
      taped(x, save) {
        save(x);
        return { y: tf.relu(x), backward: (dy, [saved]) => reluGradient(dy, saved) };
      },
    };
  }
  if (name === 'Flatten' && config.dataFormat !== 'channelsFirst') {
    const flatten = (x: tf.Tensor) => tf.reshape(x, [x.shape[0], x.size / x.shape[0]]);
    return {
      sameOnTape: true,
      untaped: flatten,
      taped(x) {
        const shape = x.shape;
        return { y: flatten(x), backward: (dy) => tf.reshape(dy, shape) };
      },
    };
  }
  // Layers' Dropout passes its input through outside training (the attacks never train).
  if (name === 'Dropout') return { sameOnTape: true, untaped: (x) => x, taped: (x) => ({ y: x, backward: (dy) => dy }) };
  return undefined;
}

function linkOf(layer: tf.layers.Layer): Link | undefined {
  const name = layer.getClassName();
  const config = layer.getConfig();
  if (name === 'Conv2D') return convLink(layer, config);
  if (name === 'Dense') return denseLink(layer, config);
  if (name === 'MaxPooling2D') return maxPoolLink(config);
  return simpleLink(name, config);
}

/**
 * The links' forward pass as on a tape: each link's input, the output, the tensors their backward
 * passes need (`kept`), and those passes chained, from dy of the output to dx.
 */
function tapedPass(links: Link[], x: tf.Tensor): { y: tf.Tensor; inputs: tf.Tensor[]; kept: tf.Tensor[]; backward(dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor } {
  const kept: tf.Tensor[] = [];
  const inputs: tf.Tensor[] = [];
  const steps: { backward: Backward; from: number; to: number }[] = [];
  let y = x;
  for (const link of links) {
    inputs.push(y);
    const from = kept.length;
    const step = link.taped(y, (t) => kept.push(t));
    steps.push({ backward: step.backward, from, to: kept.length });
    y = step.y;
  }
  return { y, inputs, kept, backward: (dy, saved) => steps.reduceRight((d, { backward, from, to }) => backward(d, saved.slice(from, to)), dy) };
}

/** The links as one op whose gradient runs their backward passes (see the module comment). */
function linksOp(links: Link[]): (x: tf.Tensor) => tf.Tensor {
  return (x) =>
    tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const input = args[0] as tf.Tensor;
      const pass = tapedPass(links, input);
      (args[1] as tf.GradSaveFunc)(pass.kept);
      // An op's value must be a tensor of its own, not its input (a chain of only dropouts).
      return { value: pass.y === input ? tf.clone(pass.y) : pass.y, gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => pass.backward(dy, saved) };
    })(x);
}

/**
 * A Sequential model's layers (InputLayer left out), run three ways with the bits of `layer.apply`:
 * - `untaped`: off the tape, the known layers by their kernels alone (no Layers bookkeeping);
 * - `taped`: on a tape, the known layers as custom-gradient ops (input gradient only);
 * - `besideTape`: both from one pass. The layers the tape does not change are run once for both, and
 *   from the first one it changes on, once more off it. On LeNet the convolutions are shared and only
 *   the dense layers run twice.
 * Layers after the first unknown one run through `layer.apply`, on the tape as usual.
 */
export interface LayerChain {
  untaped(x: tf.Tensor): tf.Tensor;
  taped(x: tf.Tensor): tf.Tensor;
  besideTape(x: tf.Tensor): { taped: tf.Tensor; untaped: tf.Tensor };
  /**
   * Where every layer is a known one: the input gradient for the gradient `outputGradient` gives
   * of the chain's output as the tape computes it, and with `withUntaped` the output off the tape,
   * from one pass and without a tape: the forward pass, then the links' backward passes, as the
   * custom ops run them.
   */
  inputGradient?(x: tf.Tensor, outputGradient: (output: tf.Tensor) => tf.Tensor, withUntaped: boolean): { gradient: tf.Tensor; untaped?: tf.Tensor };
}

export function compileChain(layers: tf.layers.Layer[]): LayerChain {
  const links: Link[] = [];
  for (const layer of layers) {
    const link = linkOf(layer);
    if (!link) break;
    links.push(link);
  }
  const rest = layers.slice(links.length);
  // The links the tape leaves alone, then the rest of them: the untaped pass branches between the two.
  const split = links.findIndex((link) => !link.sameOnTape);
  const shared = split === -1 ? links : links.slice(0, split);
  const diverging = split === -1 ? [] : links.slice(split);
  const sharedOp = shared.length ? linksOp(shared) : undefined;
  const divergingOp = diverging.length ? linksOp(diverging) : undefined;
  const apply = (layer: tf.layers.Layer, x: tf.Tensor) => layer.apply(x, { training: false }) as tf.Tensor;
  const untapedLinks = (from: Link[], x: tf.Tensor) => from.reduce((t, link) => link.untaped(t), x);
  const tapedLinks = (x: tf.Tensor) => {
    const common = sharedOp ? sharedOp(x) : x;
    return { common, taped: divergingOp ? divergingOp(common) : common };
  };
  const inputGradient: LayerChain['inputGradient'] = (x, outputGradient, withUntaped) =>
    offTape(() => {
      const pass = tapedPass(links, x);
      const gradient = pass.backward(outputGradient(pass.y), pass.kept);
      if (!withUntaped) return { gradient };
      return { gradient, untaped: diverging.length ? untapedLinks(diverging, pass.inputs[split]) : pass.y };
    });
  return {
    ...(rest.length === 0 && links.length > 0 && { inputGradient }),
    untaped: (x) => rest.reduce((t, layer) => apply(layer, t), untapedLinks(links, x)),
    taped: (x) => rest.reduce((t, layer) => apply(layer, t), tapedLinks(x).taped),
    besideTape(x) {
      const { common, taped: linked } = tapedLinks(x);
      let taped = linked;
      let untaped = diverging.length ? offTape(() => untapedLinks(diverging, common)) : undefined;
      for (const layer of rest) {
        if (untaped === undefined && sameOnTape(layer)) {
          taped = apply(layer, taped);
          continue;
        }
        const from = untaped ?? taped;
        untaped = offTape(() => apply(layer, from));
        taped = apply(layer, taped);
      }
      return { taped, untaped: untaped ?? taped };
    },
  };
}
