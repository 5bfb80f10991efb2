/**
 * An ONNX graph run with TF.js ops, so gradients come from TF.js's autodiff and every attack runs on
 * it unchanged, on every backend (ONNX Runtime computes no input gradients).
 *
 * Layout: ONNX image models are NCHW, TF.js's convolutions and pools are NHWC. The project's NHWC
 * input already *is* the graph's NCHW input stored channels-last, so a value carries a flag `nhwc`
 * ("this rank-4 tensor is the NCHW value stored as NHWC"): convolutions, pools, batch norm and
 * element-wise ops keep it, and only ops that see the layout (Reshape, Flatten, Transpose, Softmax, …)
 * transpose it back to NCHW. A ResNet then runs without a transpose between its layers.
 *
 * Shapes: TF.js runs eagerly, so every shape is known when a node runs. Shape returns a host tensor,
 * and the integer ops of a shape computation (Gather, Unsqueeze, Concat, Slice, Cast, arithmetic …)
 * run on the host, which folds PyTorch's `x.view(x.size(0), -1)` chain whatever the batch size. Nodes
 * whose inputs are all constants are folded once at load.
 */
import * as tf from '@tensorflow/tfjs';
import { ModelError } from '../errors.js';
import type { OnnxAttributeProto, OnnxModelProto, OnnxNodeProto, OnnxValueInfo } from './onnx-proto.js';
import { readTensorProto, shown, sizeOf, type HostTensor } from './onnx-tensor.js';

type TfValue = { kind: 'tf'; t: tf.Tensor; nhwc: boolean };
/** Known without the image; `t`, when set, is the same constant already made a TF.js tensor at load. */
type HostValue = { kind: 'host'; c: HostTensor; t?: tf.Tensor };
type Value = TfValue | HostValue;

interface NodeContext {
  node: OnnxNodeProto;
  opset: number;
  attrs: Map<string, OnnxAttributeProto>;
  /** Prepared tensors (filters, folded batch-norm factors), made at load and kept. */
  prepared: Map<string, tf.Tensor>;
}

type OpFunction = (ctx: NodeContext, inputs: (Value | undefined)[]) => Value[];

// ---- attributes ----------------------------------------------------------------------------------

const ATTR = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, FLOATS: 6, INTS: 7 } as const;

function describe(node: OnnxNodeProto): string {
  return `${shown(node.opType)} node "${shown(node.name || node.output[0] || '?')}"`;
}

function attrInt(ctx: NodeContext, name: string, fallback: number): number {
  const a = ctx.attrs.get(name);
  return a?.type === ATTR.INT ? Number(a.i) : fallback;
}
function attrFloat(ctx: NodeContext, name: string, fallback: number): number {
  const a = ctx.attrs.get(name);
  return a?.type === ATTR.FLOAT ? Number(a.f) : fallback;
}
function attrInts(ctx: NodeContext, name: string): number[] | undefined {
  const a = ctx.attrs.get(name);
  return a?.type === ATTR.INTS ? a.ints.map(Number) : undefined;
}
function attrFloats(ctx: NodeContext, name: string): number[] | undefined {
  const a = ctx.attrs.get(name);
  return a?.type === ATTR.FLOATS ? a.floats.map(Number) : undefined;
}
function attrString(ctx: NodeContext, name: string, fallback: string): string {
  const a = ctx.attrs.get(name);
  return a?.type === ATTR.STRING && a.s ? new TextDecoder().decode(a.s) : fallback;
}

function fail(ctx: NodeContext, message: string): never {
  throw new ModelError(`ONNX ${describe(ctx.node)}: ${message}`);
}

// ---- values --------------------------------------------------------------------------------------

const TO_NCHW = [0, 3, 1, 2];
const TO_NHWC = [0, 2, 3, 1];
/** Logical NCHW axis → axis of the NHWC storage. */
const NHWC_AXIS = [0, 3, 1, 2];

function host(shape: readonly number[], data: readonly number[] | Float32Array, integer: boolean): HostValue {
  return { kind: 'host', c: { shape, data, integer } };
}

function tfValue(t: tf.Tensor, nhwc = false): TfValue {
  return { kind: 'tf', t, nhwc };
}

/** The value as a TF.js tensor in its logical (ONNX) layout. */
function logical(v: Value): tf.Tensor {
  if (v.kind === 'host') return v.t ?? tf.tensor(Array.from(v.c.data), [...v.c.shape], 'float32');
  return v.nhwc ? tf.transpose(v.t, TO_NCHW) : v.t;
}

/** The logical shape of a value. */
function shapeOf(v: Value): number[] {
  if (v.kind === 'host') return [...v.c.shape];
  const s = v.t.shape;
  return v.nhwc ? [s[0], s[3], s[1], s[2]] as number[] : [...s];
}

/** A rank-4 NCHW value stored NHWC, for convolutions and pools. */
function nhwcOf(ctx: NodeContext, v: Value): tf.Tensor4D {
  if (v.kind === 'tf' && v.nhwc) return v.t as tf.Tensor4D;
  const t = logical(v);
  if (t.rank !== 4) fail(ctx, `takes an image tensor [N,C,H,W], got shape [${t.shape.join(',')}] (only 2-D images are supported)`);
  return tf.transpose(t, TO_NHWC) as tf.Tensor4D;
}

function required(ctx: NodeContext, inputs: (Value | undefined)[], i: number): Value {
  const v = inputs[i];
  if (!v) fail(ctx, `input ${i} is missing`);
  return v;
}

/** A value that must be known without running the model (a shape, axes, indices). */
function hostOf(ctx: NodeContext, v: Value | undefined, what: string): HostTensor {
  if (!v) fail(ctx, `${what} is missing`);
  if (v.kind !== 'host') fail(ctx, `${what} is computed from the image data, so the graph has a dynamic shape that cannot be folded`);
  return v.c;
}

function ints(c: HostTensor): number[] {
  return Array.from(c.data, Number);
}

function normaliseAxis(ctx: NodeContext, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) fail(ctx, `axis ${axis} is out of range for rank ${rank}`);
  return a;
}

// ---- host computations (shape arithmetic) --------------------------------------------------------

function stridesOf(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) strides[i] = strides[i + 1] * shape[i + 1];
  return strides;
}

/** NumPy broadcasting of two host tensors; `f` is told whether both are integer tensors. */
function hostBinary(ctx: NodeContext, a: HostTensor, b: HostTensor, f: (x: number, y: number, integer: boolean) => number): HostValue {
  const rank = Math.max(a.shape.length, b.shape.length);
  const pad = (s: readonly number[]) => [...new Array<number>(rank - s.length).fill(1), ...s];
  const [sa, sb] = [pad(a.shape), pad(b.shape)];
  const shape = sa.map((d, i) => {
    if (d !== sb[i] && d !== 1 && sb[i] !== 1) fail(ctx, `cannot broadcast [${a.shape.join(',')}] with [${b.shape.join(',')}]`);
    return d === 1 ? sb[i] : d;
  });
  const [ta, tb, to] = [stridesOf(sa), stridesOf(sb), stridesOf(shape)];
  const n = sizeOf(shape);
  const integer = a.integer && b.integer;
  const out = integer ? new Array<number>(n) : new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let ia = 0;
    let ib = 0;
    for (let d = 0; d < rank; d++) {
      const k = Math.floor(i / to[d]) % shape[d];
      if (sa[d] !== 1) ia += k * ta[d];
      if (sb[d] !== 1) ib += k * tb[d];
    }
    out[i] = f(Number(a.data[ia]), Number(b.data[ib]), integer);
  }
  return host(shape, out, integer);
}

/** Gathers along `axis` of a host tensor. */
function hostGather(data: HostTensor, indices: HostTensor, axis: number): HostValue {
  const outer = sizeOf(data.shape.slice(0, axis));
  const inner = sizeOf(data.shape.slice(axis + 1));
  const dim = data.shape[axis];
  const idx = ints(indices).map((i) => (i < 0 ? i + dim : i));
  const out: number[] = [];
  for (let o = 0; o < outer; o++) for (const i of idx) for (let k = 0; k < inner; k++) out.push(Number(data.data[(o * dim + i) * inner + k]));
  const shape = [...data.shape.slice(0, axis), ...indices.shape, ...data.shape.slice(axis + 1)];
  return host(shape, data.integer ? out : Float32Array.from(out), data.integer);
}

// ---- operators -----------------------------------------------------------------------------------

function unary(f: (t: tf.Tensor, ctx: NodeContext) => tf.Tensor): OpFunction {
  return (ctx, inputs) => {
    const x = required(ctx, inputs, 0);
    if (x.kind === 'host') return [tfValue(f(logical(x), ctx))];
    return [tfValue(f(x.t, ctx), x.nhwc)];
  };
}

/** Brings a (non-NHWC) operand to the NHWC storage of a rank-4 value it broadcasts against. */
function broadcastToNhwc(v: Value): tf.Tensor | undefined {
  const t = logical(v);
  if (t.rank > 4) return undefined;
  const four = t.reshape([...new Array<number>(4 - t.rank).fill(1), ...t.shape]);
  return tf.transpose(four, TO_NHWC);
}

function binary(f: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor, onHost?: (x: number, y: number, integer: boolean) => number): OpFunction {
  return (ctx, inputs) => {
    const a = required(ctx, inputs, 0);
    const b = required(ctx, inputs, 1);
    if (a.kind === 'host' && b.kind === 'host' && onHost) return [hostBinary(ctx, a.c, b.c, onHost)];
    const aNhwc = a.kind === 'tf' && a.nhwc;
    const bNhwc = b.kind === 'tf' && b.nhwc;
    if (aNhwc || bNhwc) {
      const ta = aNhwc ? a.t : broadcastToNhwc(a);
      const tb = bNhwc ? b.t : broadcastToNhwc(b);
      if (ta && tb) return [tfValue(f(ta, tb), true)];
    }
    return [tfValue(f(logical(a), logical(b)))];
  };
}

/** Pads [top, left, bottom, right] of a 2-D window op, from `pads` or `auto_pad`. */
function windowPads(ctx: NodeContext, size: [number, number], kernel: [number, number], strides: [number, number], dilations: [number, number]): [number, number, number, number] {
  const autoPad = attrString(ctx, 'auto_pad', 'NOTSET');
  if (autoPad === 'VALID') return [0, 0, 0, 0];
  if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    const total = [0, 1].map((i) => {
      const out = Math.ceil(size[i] / strides[i]);
      return Math.max(0, (out - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 - size[i]);
    });
    // SAME_UPPER puts the odd cell at the end (TensorFlow's 'same'), SAME_LOWER at the start.
    const begin = total.map((t) => (autoPad === 'SAME_UPPER' ? Math.floor(t / 2) : Math.ceil(t / 2)));
    return [begin[0], begin[1], total[0] - begin[0], total[1] - begin[1]];
  }
  if (autoPad !== 'NOTSET') fail(ctx, `auto_pad "${autoPad}" is not an ONNX value`);
  const pads = attrInts(ctx, 'pads') ?? [0, 0, 0, 0];
  if (pads.length !== 4) fail(ctx, `pads has ${pads.length} values, a 2-D window takes 4`);
  return [pads[0], pads[1], pads[2], pads[3]];
}

function pair(ctx: NodeContext, name: string, fallback: number): [number, number] {
  const v = attrInts(ctx, name) ?? [fallback, fallback];
  if (v.length !== 2) fail(ctx, `${name} has ${v.length} values; only 2-D convolutions and pools are supported`);
  return [v[0], v[1]];
}

function padNhwc(x: tf.Tensor4D, [top, left, bottom, right]: readonly number[], value = 0): tf.Tensor4D {
  if (top === 0 && left === 0 && bottom === 0 && right === 0) return x;
  return tf.pad(x, [[0, 0], [top, bottom], [left, right], [0, 0]], value) as tf.Tensor4D;
}

/**
 * Conv: ONNX weights [M, C/group, kH, kW] become TF.js filters once, at load. Padding is an explicit
 * tf.pad before a 'valid' convolution (ONNX pads may be asymmetric), and dilations are built into the
 * filter (zeros between taps), because TF.js has no gradient for dilated convolutions.
 */
function prepareConv(ctx: NodeContext, weight: HostTensor, bias: HostTensor | undefined): void {
  const [m, cPerGroup, kh, kw] = weight.shape;
  if (weight.shape.length !== 4) fail(ctx, `weight shape [${weight.shape.join(',')}]: only 2-D convolutions are supported`);
  const group = attrInt(ctx, 'group', 1);
  const [dh, dw] = pair(ctx, 'dilations', 1);
  const [ekh, ekw] = [(kh - 1) * dh + 1, (kw - 1) * dw + 1];
  if (m % group !== 0) fail(ctx, `${m} output channels do not split into ${group} groups`);
  // filter[i, j, c, o] = W[o, c, i/dh, j/dw] on the dilated grid, zero elsewhere.
  const filter = new Float32Array(ekh * ekw * cPerGroup * m);
  for (let o = 0; o < m; o++) {
    for (let c = 0; c < cPerGroup; c++) {
      for (let i = 0; i < kh; i++) {
        for (let j = 0; j < kw; j++) {
          filter[((i * dh * ekw + j * dw) * cPerGroup + c) * m + o] = Number(weight.data[((o * cPerGroup + c) * kh + i) * kw + j]);
        }
      }
    }
  }
  const full = tf.tensor4d(filter, [ekh, ekw, cPerGroup, m]);
  if (group === 1) {
    ctx.prepared.set('filter', full);
  } else if (cPerGroup === 1) {
    // Depthwise: output channel o = c·multiplier + k reads input channel c, as in TF.js's depthwise.
    ctx.prepared.set('depthwise', full.reshape([ekh, ekw, group, m / group]));
    full.dispose();
  } else {
    tf.split(full, group, 3).forEach((f, g) => ctx.prepared.set(`filter${g}`, f));
    full.dispose();
  }
  if (bias) ctx.prepared.set('bias', tf.tensor1d(Float32Array.from(bias.data, Number)));
}

/** Runs the filters prepareConv made on an already padded NHWC input ('valid' convolution). */
function convolvePrepared(ctx: NodeContext, padded: tf.Tensor4D, strides: [number, number]): tf.Tensor4D {
  const group = attrInt(ctx, 'group', 1);
  const filter = ctx.prepared.get('filter') as tf.Tensor4D | undefined;
  const depthwise = ctx.prepared.get('depthwise') as tf.Tensor4D | undefined;
  let y: tf.Tensor4D;
  if (filter) {
    if (padded.shape[3] !== filter.shape[2]) fail(ctx, `input has ${padded.shape[3]} channels, the weights take ${filter.shape[2]}`);
    y = tf.conv2d(padded, filter, strides, 'valid');
  } else if (depthwise) {
    if (padded.shape[3] !== group) fail(ctx, `input has ${padded.shape[3]} channels, the depthwise weights take ${group}`);
    y = tf.depthwiseConv2d(padded, depthwise, strides, 'valid');
  } else {
    const first = ctx.prepared.get('filter0');
    if (!first) fail(ctx, 'has no constant weights');
    if (padded.shape[3] !== first.shape[2]! * group) fail(ctx, `input has ${padded.shape[3]} channels, the weights take ${first.shape[2]! * group}`);
    const parts = tf.split(padded, group, 3);
    y = tf.concat(parts.map((p, g) => tf.conv2d(p as tf.Tensor4D, ctx.prepared.get(`filter${g}`) as tf.Tensor4D, strides, 'valid')), 3);
  }
  const bias = ctx.prepared.get('bias');
  return bias ? tf.add(y, bias) : y;
}

/** The filter size prepareConv made (dilation built in). */
function preparedKernel(ctx: NodeContext): [number, number] {
  const prepared = ctx.prepared.get('filter') ?? ctx.prepared.get('depthwise') ?? ctx.prepared.get('filter0');
  if (!prepared) fail(ctx, 'has no constant weights');
  return [prepared.shape[0]!, prepared.shape[1]!];
}

const conv: OpFunction = (ctx, inputs) => {
  const x = nhwcOf(ctx, required(ctx, inputs, 0));
  const strides = pair(ctx, 'strides', 1);
  // The filter already holds the dilation, so the pads are computed for a dilation-1 kernel of its size.
  const padded = padNhwc(x, windowPads(ctx, [x.shape[1], x.shape[2]], preparedKernel(ctx), strides, [1, 1]));
  return [tfValue(convolvePrepared(ctx, padded, strides), true)];
};

/**
 * ConvTranspose as the convolution it is the gradient of: zeros inserted between the input's pixels
 * (stride − 1 of them), padded by kernel − 1 − pads on each side (+ output_padding at the end; a
 * negative amount crops), then a stride-1 convolution with the kernel flipped and its in/out channels
 * swapped per group. Written with pad, reshape and conv2d so gradients come from TF.js's autodiff for
 * every groups/dilations combination (tf.conv2dTranspose has neither groups nor dilations).
 */
function prepareConvTranspose(ctx: NodeContext, weight: HostTensor, bias: HostTensor | undefined): void {
  if (weight.shape.length !== 4) fail(ctx, `weight shape [${weight.shape.join(',')}]: only 2-D transposed convolutions are supported`);
  const [cIn, outPerGroup, kh, kw] = weight.shape;
  const group = attrInt(ctx, 'group', 1);
  if (cIn % group !== 0) fail(ctx, `${cIn} input channels do not split into ${group} groups`);
  const inPerGroup = cIn / group;
  // Equivalent Conv weight [group·outPerGroup, inPerGroup, kh, kw], flipped in space.
  const flipped = new Float32Array(group * outPerGroup * inPerGroup * kh * kw);
  for (let g = 0; g < group; g++) {
    for (let o = 0; o < outPerGroup; o++) {
      for (let c = 0; c < inPerGroup; c++) {
        for (let i = 0; i < kh; i++) {
          for (let j = 0; j < kw; j++) {
            const from = (((g * inPerGroup + c) * outPerGroup + o) * kh + (kh - 1 - i)) * kw + (kw - 1 - j);
            flipped[((((g * outPerGroup + o) * inPerGroup + c) * kh + i) * kw) + j] = Number(weight.data[from]);
          }
        }
      }
    }
  }
  prepareConv(ctx, { shape: [group * outPerGroup, inPerGroup, kh, kw], data: flipped, integer: false }, bias);
}

/** Pads (positive) or crops (negative) the spatial sides [top, left, bottom, right] of an NHWC tensor. */
function padOrCrop(x: tf.Tensor4D, sides: readonly number[]): tf.Tensor4D {
  const [top, left, bottom, right] = sides;
  const grown = padNhwc(x, sides.map((p) => Math.max(0, p)));
  if (top >= 0 && left >= 0 && bottom >= 0 && right >= 0) return grown;
  const [cropTop, cropLeft] = [Math.max(0, -top), Math.max(0, -left)];
  const h = grown.shape[1] - cropTop - Math.max(0, -bottom);
  const w = grown.shape[2] - cropLeft - Math.max(0, -right);
  return tf.slice(grown, [0, cropTop, cropLeft, 0], [grown.shape[0], h, w, grown.shape[3]]);
}

/** Inserts stride − 1 zeros between neighbouring pixels along H and W. */
function spreadNhwc(x: tf.Tensor4D, [sh, sw]: [number, number]): tf.Tensor4D {
  if (sh === 1 && sw === 1) return x;
  const [n, h, w, c] = x.shape;
  const spread = tf.pad(x.reshape([n, h, 1, w, 1, c]), [[0, 0], [0, 0], [0, sh - 1], [0, 0], [0, sw - 1], [0, 0]]).reshape([n, h * sh, w * sw, c]);
  return tf.slice(spread, [0, 0, 0, 0], [n, (h - 1) * sh + 1, (w - 1) * sw + 1, c]) as tf.Tensor4D;
}

const convTranspose: OpFunction = (ctx, inputs) => {
  const x = nhwcOf(ctx, required(ctx, inputs, 0));
  const strides = pair(ctx, 'strides', 1);
  const [kh, kw] = preparedKernel(ctx);
  const size: [number, number] = [x.shape[1], x.shape[2]];
  const outputPadding = pair(ctx, 'output_padding', 0);
  // Full output before the pads are taken off: stride·(in − 1) + output_padding + dilated kernel.
  const full = [0, 1].map((i) => strides[i] * (size[i] - 1) + outputPadding[i] + [kh, kw][i]);
  let pads: number[];
  const outputShape = attrInts(ctx, 'output_shape');
  const autoPad = attrString(ctx, 'auto_pad', 'NOTSET');
  if (outputShape || autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    const wanted = outputShape ? outputShape.slice(-2) : [size[0] * strides[0], size[1] * strides[1]];
    if (wanted.length !== 2) fail(ctx, `output_shape has ${wanted.length} values; only 2-D is supported`);
    const total = [0, 1].map((i) => full[i] - wanted[i]);
    if (total.some((t) => t < 0)) fail(ctx, `output_shape [${wanted.join(',')}] is larger than the ${full.join('x')} the kernel reaches`);
    // ONNX's rule: SAME_UPPER takes the odd cell off the end, otherwise it comes off the start.
    const begin = total.map((t) => (autoPad === 'SAME_UPPER' ? Math.floor(t / 2) : Math.ceil(t / 2)));
    pads = [begin[0], begin[1], total[0] - begin[0], total[1] - begin[1]];
  } else if (autoPad === 'VALID' || autoPad === 'NOTSET') {
    pads = autoPad === 'VALID' ? [0, 0, 0, 0] : (attrInts(ctx, 'pads') ?? [0, 0, 0, 0]);
    if (pads.length !== 4) fail(ctx, `pads has ${pads.length} values, a 2-D transposed convolution takes 4`);
  } else {
    fail(ctx, `auto_pad "${autoPad}" is not an ONNX value`);
  }
  const sides = [kh - 1 - pads[0], kw - 1 - pads[1], kh - 1 - pads[2] + outputPadding[0], kw - 1 - pads[3] + outputPadding[1]];
  return [tfValue(convolvePrepared(ctx, padOrCrop(spreadNhwc(x, strides), sides), [1, 1]), true)];
};

// ---- Resize --------------------------------------------------------------------------------------

/** Output pixel → input coordinate, ONNX's coordinate_transformation_mode. */
function sourceCoordinate(ctx: NodeContext, mode: string, x: number, scale: number, inSize: number, outSize: number): number {
  switch (mode) {
    case 'half_pixel': return (x + 0.5) / scale - 0.5;
    case 'pytorch_half_pixel': return outSize > 1 ? (x + 0.5) / scale - 0.5 : 0;
    case 'align_corners': return outSize === 1 ? 0 : (x * (inSize - 1)) / (outSize - 1);
    case 'asymmetric': return x / scale;
    case 'tf_half_pixel_for_nn': return (x + 0.5) / scale;
    default: fail(ctx, `coordinate_transformation_mode "${mode}" is not supported`);
  }
}

function nearestIndex(ctx: NodeContext, mode: string, v: number): number {
  switch (mode) {
    case 'round_prefer_floor': return v === Math.floor(v) + 0.5 ? Math.floor(v) : Math.round(v);
    case 'round_prefer_ceil': return Math.round(v);
    case 'floor': return Math.floor(v);
    case 'ceil': return Math.ceil(v);
    default: fail(ctx, `nearest_mode "${mode}" is not supported`);
  }
}

/** How output pixels map to input coordinates, and which input pixel "nearest" takes. */
interface Sampling {
  linear: boolean;
  transform: string;
  nearestMode: string;
}

/**
 * Resizes one spatial axis of an NHWC tensor: nearest is a gather, linear the two neighbours'
 * gathers weighted (indices clamped to the edge, as ONNX's reference and PyTorch do). Gathers and
 * products only, so the gradient flows back to the input pixels.
 */
function resizeAxis(ctx: NodeContext, x: tf.Tensor4D, axis: 1 | 2, outSize: number, scale: number, sampling: Sampling): tf.Tensor4D {
  const inSize = x.shape[axis];
  if (inSize === outSize && scale === 1) return x;
  const clamp = (i: number) => Math.min(Math.max(i, 0), inSize - 1);
  const sources = Array.from({ length: outSize }, (_, i) => sourceCoordinate(ctx, sampling.transform, i, scale, inSize, outSize));
  if (!sampling.linear) {
    return tf.gather(x, tf.tensor1d(sources.map((s) => clamp(nearestIndex(ctx, sampling.nearestMode, s))), 'int32'), axis);
  }
  const low = sources.map(Math.floor);
  const below = tf.gather(x, tf.tensor1d(low.map(clamp), 'int32'), axis);
  const above = tf.gather(x, tf.tensor1d(low.map((l) => clamp(l + 1)), 'int32'), axis);
  const weightShape = axis === 1 ? [1, outSize, 1, 1] : [1, 1, outSize, 1];
  const weight = tf.tensor(sources.map((s, i) => s - low[i]), weightShape);
  return tf.add(below, tf.mul(tf.sub(above, below), weight)) as tf.Tensor4D;
}

/** Resizes H and W of an NCHW value stored NHWC to `outShape` (NCHW), with the scales the coordinates use. */
function resizeImage(ctx: NodeContext, x: tf.Tensor4D, outShape: readonly number[], spatialScales: readonly number[], sampling: Sampling): Value {
  const inShape = [x.shape[0], x.shape[3], x.shape[1], x.shape[2]];
  if (outShape[0] !== inShape[0] || outShape[1] !== inShape[1]) fail(ctx, 'only the height and width can be resized');
  if (outShape.some((d) => !Number.isInteger(d) || d <= 0)) fail(ctx, `output shape [${outShape.join(',')}] is not usable`);
  const tall = resizeAxis(ctx, x, 1, outShape[2], spatialScales[0], sampling);
  return tfValue(resizeAxis(ctx, tall, 2, outShape[3], spatialScales[1], sampling), true);
}

function interpolationMode(ctx: NodeContext): boolean {
  const mode = attrString(ctx, 'mode', 'nearest');
  if (mode !== 'nearest' && mode !== 'linear') fail(ctx, `mode "${mode}" is not supported (nearest and linear are)`);
  return mode === 'linear';
}

/**
 * Resize, opsets 10-19. Opset 18's `axes` names the axes that scales/sizes list (the others keep
 * their size), and its keep_aspect_ratio_policy turns sizes into one scale for every listed axis:
 * the smallest ratio (not_larger) or the largest (not_smaller), each size then round(scale · in), in
 * float32 as ONNX's shape inference computes it; the coordinates use that one scale.
 */
const resize: OpFunction = (ctx, inputs) => {
  const x = nhwcOf(ctx, required(ctx, inputs, 0));
  const linear = interpolationMode(ctx);
  if (attrInt(ctx, 'antialias', 0) !== 0) fail(ctx, 'antialias is not supported');
  const policy = attrString(ctx, 'keep_aspect_ratio_policy', 'stretch');
  if (policy !== 'stretch' && policy !== 'not_larger' && policy !== 'not_smaller') fail(ctx, `keep_aspect_ratio_policy "${policy}" is not an ONNX value`);
  // Opset 10: (X, scales); opset 11+: (X, roi, scales, sizes), an empty tensor standing for "absent".
  const [scalesAt, sizesAt] = ctx.opset >= 11 ? [2, 3] : [1, -1];
  const given = (i: number) => {
    if (i < 0 || !inputs[i]) return undefined;
    const c = hostOf(ctx, inputs[i], i === scalesAt ? 'scales' : 'sizes');
    return c.data.length > 0 ? Array.from(c.data, Number) : undefined;
  };
  const scales = given(scalesAt);
  const sizes = given(sizesAt);
  const inShape = [x.shape[0], x.shape[3], x.shape[1], x.shape[2]];
  const axes = (attrInts(ctx, 'axes') ?? [0, 1, 2, 3]).map((a) => normaliseAxis(ctx, a, 4));
  if (new Set(axes).size !== axes.length) fail(ctx, `axes [${axes.join(',')}] name an axis twice`);
  /** The full-rank list: `values` on the listed axes, `rest(axis)` on the others. */
  const onAxes = (values: number[], what: string, rest: (axis: number) => number) => {
    if (values.length !== axes.length) fail(ctx, `${what} has ${values.length} values for ${axes.length} axes`);
    const full = inShape.map((_, a) => rest(a));
    axes.forEach((a, i) => (full[a] = values[i]));
    return full;
  };
  let outShape: number[];
  let spatialScales: number[];
  if (sizes) {
    if (policy === 'stretch') {
      outShape = onAxes(sizes, 'sizes', (a) => inShape[a]);
      spatialScales = [outShape[2] / inShape[2], outShape[3] / inShape[3]];
    } else {
      const ratios = sizes.map((s, i) => Math.fround(s / inShape[axes[i]]));
      const scale = policy === 'not_larger' ? Math.min(...ratios) : Math.max(...ratios);
      outShape = onAxes(axes.map((a) => Math.round(Math.fround(scale * inShape[a]))), 'sizes', (a) => inShape[a]);
      spatialScales = [2, 3].map((a) => (axes.includes(a) ? scale : 1));
    }
  } else if (scales) {
    if (policy !== 'stretch') fail(ctx, `keep_aspect_ratio_policy "${policy}" applies to sizes, not to scales`);
    const full = onAxes(scales, 'scales', () => 1);
    outShape = inShape.map((d, i) => Math.floor(d * full[i]));
    spatialScales = [full[2], full[3]];
  } else {
    fail(ctx, 'neither scales nor sizes is given');
  }
  // Opset 10's Resize had neither attribute: it scaled asymmetrically and took the floor (as PyTorch's nearest does).
  const legacy = ctx.opset < 11;
  const sampling: Sampling = {
    linear,
    transform: legacy ? 'asymmetric' : attrString(ctx, 'coordinate_transformation_mode', 'half_pixel'),
    nearestMode: legacy ? 'floor' : attrString(ctx, 'nearest_mode', 'round_prefer_floor'),
  };
  return [resizeImage(ctx, x, outShape, spatialScales, sampling)];
};

/**
 * Upsample (opsets 7-9, deprecated since 10): Resize before Resize existed. Its scales are an
 * attribute in Upsample-7 and an input from Upsample-9, every one ≥ 1 (it only enlarges); it maps
 * coordinates asymmetrically (x / scale) and nearest takes the floor, as ONNX Runtime does and
 * as PyTorch's nearest interpolation does for the whole factors it exports.
 */
const upsample: OpFunction = (ctx, inputs) => {
  const x = nhwcOf(ctx, required(ctx, inputs, 0));
  const linear = interpolationMode(ctx);
  const scales = ctx.opset >= 9 ? Array.from(hostOf(ctx, inputs[1], 'scales').data, Number) : attrFloats(ctx, 'scales');
  if (!scales) fail(ctx, 'the scales attribute is missing');
  if (scales.length !== 4) fail(ctx, `scales has ${scales.length} values, an image tensor takes 4`);
  if (scales.some((s) => !(s >= 1))) fail(ctx, `scales [${scales.join(',')}]: Upsample only enlarges, every scale must be at least 1`);
  const inShape = [x.shape[0], x.shape[3], x.shape[1], x.shape[2]];
  const outShape = inShape.map((d, i) => Math.floor(d * scales[i]));
  return [resizeImage(ctx, x, outShape, [scales[2], scales[3]], { linear, transform: 'asymmetric', nearestMode: 'floor' })];
};

/** ceil_mode: extra cells at the end so the last partial window counts, unless it would start in the padding. */
function ceilExtra(size: number, kernel: number, stride: number, begin: number, end: number): number {
  const floorOut = Math.floor((size + begin + end - kernel) / stride) + 1;
  let ceilOut = Math.ceil((size + begin + end - kernel) / stride) + 1;
  if ((ceilOut - 1) * stride >= size + begin) ceilOut--; // PyTorch's and ONNX Runtime's rule
  return Math.max(0, (ceilOut - floorOut) * stride + (floorOut - 1) * stride + kernel - (size + begin + end));
}

function poolGeometry(ctx: NodeContext, x: tf.Tensor4D) {
  const kernel = pair(ctx, 'kernel_shape', 1);
  if (!attrInts(ctx, 'kernel_shape')) fail(ctx, 'kernel_shape is missing');
  const strides = pair(ctx, 'strides', 1);
  const dilations = pair(ctx, 'dilations', 1);
  if (dilations[0] !== 1 || dilations[1] !== 1) fail(ctx, 'dilated pooling is not supported');
  const pads = windowPads(ctx, [x.shape[1], x.shape[2]], kernel, strides, dilations);
  const extra = attrInt(ctx, 'ceil_mode', 0)
    ? [ceilExtra(x.shape[1], kernel[0], strides[0], pads[0], pads[2]), ceilExtra(x.shape[2], kernel[1], strides[1], pads[1], pads[3])]
    : [0, 0];
  return { kernel, strides, pads, extra };
}

/** Stands for −∞ in MaxPool's padding: finite, so no 0·∞ appears in any gradient. */
const LOWEST = -3.4e38;

const maxPool: OpFunction = (ctx, inputs) => {
  if (ctx.node.output.length > 1 && ctx.node.output[1]) fail(ctx, 'the Indices output is not supported');
  const x = nhwcOf(ctx, required(ctx, inputs, 0));
  const { kernel, strides, pads, extra } = poolGeometry(ctx, x);
  const padded = padNhwc(x, [pads[0], pads[1], pads[2] + extra[0], pads[3] + extra[1]], LOWEST);
  return [tfValue(tf.maxPool(padded, kernel, strides, 'valid'), true)];
};

/**
 * AveragePool divides by the cells that count: with count_include_pad the explicit pads count, cells
 * added by ceil_mode never do (PyTorch's divisor). Sum over a mask of counting cells gives the divisor.
 */
const averagePool: OpFunction = (ctx, inputs) => {
  const x = nhwcOf(ctx, required(ctx, inputs, 0));
  const { kernel, strides, pads, extra } = poolGeometry(ctx, x);
  const padAll = [pads[0], pads[1], pads[2] + extra[0], pads[3] + extra[1]];
  const pooled = tf.avgPool(padNhwc(x, padAll), kernel, strides, 'valid');
  if (padAll.every((p) => p === 0)) return [tfValue(pooled, true)];
  const includePad = attrInt(ctx, 'count_include_pad', 0) === 1;
  const ones = tf.ones([1, x.shape[1], x.shape[2], 1]) as tf.Tensor4D;
  const counted = includePad ? padNhwc(ones, pads, 1) : ones;
  const mask = padNhwc(counted, includePad ? [0, 0, extra[0], extra[1]] : padAll, 0);
  return [tfValue(tf.div(pooled, tf.avgPool(mask, kernel, strides, 'valid')), true)];
};

const batchNorm: OpFunction = (ctx, inputs) => {
  const x = required(ctx, inputs, 0);
  const scale = ctx.prepared.get('scale')!;
  const shift = ctx.prepared.get('shift')!;
  if (x.kind === 'tf' && x.nhwc) return [tfValue(tf.add(tf.mul(x.t, scale), shift), true)];
  const t = logical(x);
  if (t.rank === 4) return [tfValue(tf.add(tf.mul(tf.transpose(t, TO_NHWC), scale), shift), true)];
  const c = scale.shape[0];
  const shape = [c, ...new Array<number>(Math.max(0, t.rank - 2)).fill(1)];
  return [tfValue(tf.add(tf.mul(t, scale.reshape(shape)), shift.reshape(shape)))];
};

function prepareBatchNorm(ctx: NodeContext, consts: (HostTensor | undefined)[]): void {
  const [gamma, beta, mean, variance] = consts.slice(1, 5);
  if (!gamma || !beta || !mean || !variance) fail(ctx, 'scale, B, mean and var must be constants (inference mode)');
  const epsilon = attrFloat(ctx, 'epsilon', 1e-5);
  // y = (x − mean)/√(var + ε)·γ + β = x·a + b, folded once in float64.
  const a = Array.from(gamma.data, (g, i) => Number(g) / Math.sqrt(Number(variance.data[i]) + epsilon));
  const b = Array.from(beta.data, (bb, i) => Number(bb) - Number(mean.data[i]) * a[i]);
  ctx.prepared.set('scale', tf.tensor1d(a));
  ctx.prepared.set('shift', tf.tensor1d(b));
}

function softmaxOp(f: (t: tf.Tensor) => tf.Tensor): OpFunction {
  return (ctx, inputs) => {
    const t = logical(required(ctx, inputs, 0));
    if (ctx.opset < 13) {
      // Opsets ≤ 12: the input is seen as 2-D, [prod(shape[:axis]), prod(shape[axis:])].
      const axis = normaliseAxis(ctx, attrInt(ctx, 'axis', 1), t.rank);
      const rows = sizeOf(t.shape.slice(0, axis));
      return [tfValue(f(t.reshape([rows, -1])).reshape(t.shape))];
    }
    const axis = normaliseAxis(ctx, attrInt(ctx, 'axis', -1), t.rank);
    if (axis === t.rank - 1) return [tfValue(f(t))];
    const perm = [...Array(t.rank).keys()];
    [perm[axis], perm[t.rank - 1]] = [perm[t.rank - 1], perm[axis]];
    return [tfValue(tf.transpose(f(tf.transpose(t, perm)), perm))];
  };
}

function gemm(ctx: NodeContext, inputs: (Value | undefined)[]): Value[] {
  let a = logical(required(ctx, inputs, 0));
  let b = ctx.prepared.get('B') ?? logical(required(ctx, inputs, 1));
  if (attrInt(ctx, 'transA', 0)) a = tf.transpose(a);
  if (!ctx.prepared.has('B') && attrInt(ctx, 'transB', 0)) b = tf.transpose(b);
  if (a.rank !== 2) a = a.reshape([a.shape[0], -1]);
  let y: tf.Tensor = tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D);
  const alpha = attrFloat(ctx, 'alpha', 1);
  if (alpha !== 1) y = tf.mul(y, alpha);
  const c = inputs[2];
  if (c) {
    const beta = attrFloat(ctx, 'beta', 1);
    const ct = ctx.prepared.get('C') ?? logical(c);
    y = tf.add(y, beta === 1 ? ct : tf.mul(ct, beta));
  }
  return [tfValue(y)];
}

function reshapeTo(ctx: NodeContext, from: readonly number[], spec: number[], allowZero: boolean): number[] {
  const shape = spec.map((d, i) => (d === 0 && !allowZero ? from[i] : d));
  const unknown = shape.indexOf(-1);
  if (unknown >= 0) {
    const known = sizeOf(shape.filter((_, i) => i !== unknown));
    shape[unknown] = known === 0 ? 0 : sizeOf(from) / known;
  }
  if (sizeOf(shape) !== sizeOf(from) || shape.some((d) => !Number.isInteger(d) || d < 0)) {
    fail(ctx, `cannot reshape [${from.join(',')}] to [${spec.join(',')}]`);
  }
  return shape;
}

const reshape: OpFunction = (ctx, inputs) => {
  const x = required(ctx, inputs, 0);
  const spec = ints(hostOf(ctx, inputs[1], 'the target shape'));
  const shape = reshapeTo(ctx, shapeOf(x), spec, attrInt(ctx, 'allowzero', 0) === 1);
  if (x.kind === 'host') return [host(shape, x.c.data, x.c.integer)];
  return [tfValue(logical(x).reshape(shape))];
};

const flatten: OpFunction = (ctx, inputs) => {
  const x = required(ctx, inputs, 0);
  const s = shapeOf(x);
  const axis = attrInt(ctx, 'axis', 1);
  const a = axis < 0 ? axis + s.length : axis;
  const shape = [sizeOf(s.slice(0, a)), sizeOf(s.slice(a))];
  if (x.kind === 'host') return [host(shape, x.c.data, x.c.integer)];
  return [tfValue(logical(x).reshape(shape))];
};

const transpose: OpFunction = (ctx, inputs) => {
  const x = required(ctx, inputs, 0);
  const rank = shapeOf(x).length;
  const perm = attrInts(ctx, 'perm') ?? [...Array(rank).keys()].reverse();
  if (x.kind === 'host') {
    if (rank > 2 && !x.c.integer) return [tfValue(tf.transpose(logical(x), perm))];
    const t = tf.tidy(() => tf.transpose(tf.tensor(Array.from(x.c.data, Number), [...x.c.shape], x.c.integer ? 'int32' : 'float32'), perm));
    const out = host(t.shape, x.c.integer ? Array.from(t.dataSync()) : Float32Array.from(t.dataSync()), x.c.integer);
    t.dispose();
    return [out];
  }
  if (x.nhwc) {
    // Composing with the storage permutation saves one transpose.
    return [tfValue(tf.transpose(x.t, perm.map((p) => NHWC_AXIS[p])))];
  }
  return [tfValue(tf.transpose(x.t, perm))];
};

const concat: OpFunction = (ctx, inputs) => {
  const values = inputs.filter((v): v is Value => v !== undefined);
  const rank = shapeOf(values[0]).length;
  const axis = normaliseAxis(ctx, attrInt(ctx, 'axis', 0), rank);
  if (values.every((v) => v.kind === 'host')) {
    const hosts = values.map((v) => (v as HostValue).c);
    const outer = sizeOf(hosts[0].shape.slice(0, axis));
    const integer = hosts.every((h) => h.integer);
    const out: number[] = [];
    for (let o = 0; o < outer; o++) {
      for (const h of hosts) {
        const block = sizeOf(h.shape.slice(axis));
        for (let k = 0; k < block; k++) out.push(Number(h.data[o * block + k]));
      }
    }
    const shape = [...hosts[0].shape];
    shape[axis] = hosts.reduce((n, h) => n + h.shape[axis], 0);
    return [host(shape, integer ? out : Float32Array.from(out), integer)];
  }
  if (rank === 4 && values.some((v) => v.kind === 'tf' && v.nhwc)) {
    return [tfValue(tf.concat(values.map((v) => nhwcOf(ctx, v)), NHWC_AXIS[axis]), true)];
  }
  return [tfValue(tf.concat(values.map(logical), axis))];
};

const shapeOp: OpFunction = (ctx, inputs) => {
  const s = shapeOf(required(ctx, inputs, 0));
  const start = attrInt(ctx, 'start', 0);
  const end = ctx.attrs.has('end') ? attrInt(ctx, 'end', s.length) : s.length;
  const picked = s.slice(start < 0 ? start + s.length : start, end < 0 ? end + s.length : end);
  return [host([picked.length], picked, true)];
};

const gather: OpFunction = (ctx, inputs) => {
  const data = required(ctx, inputs, 0);
  const indices = hostOf(ctx, inputs[1], 'the indices');
  const rank = shapeOf(data).length;
  const axis = normaliseAxis(ctx, attrInt(ctx, 'axis', 0), rank);
  if (data.kind === 'host') return [hostGather(data.c, indices, axis)];
  const dim = shapeOf(data)[axis];
  const idx = ints(indices).map((i) => (i < 0 ? i + dim : i));
  const t = logical(data);
  const gathered = tf.gather(t, tf.tensor1d(idx, 'int32'), axis);
  const shape = [...t.shape.slice(0, axis), ...indices.shape, ...t.shape.slice(axis + 1)];
  return [tfValue(gathered.reshape(shape))];
};

/** Axes from the attribute (opset < 13) or the second input (opset ≥ 13). */
function axesOf(ctx: NodeContext, inputs: (Value | undefined)[], inputSince: number): number[] | undefined {
  if (ctx.opset >= inputSince) return inputs[1] ? ints(hostOf(ctx, inputs[1], 'axes')) : undefined;
  return attrInts(ctx, 'axes');
}

function withShape(x: Value, shape: number[]): Value {
  if (x.kind === 'host') return host(shape, x.c.data, x.c.integer);
  return tfValue(logical(x).reshape(shape));
}

const unsqueeze: OpFunction = (ctx, inputs) => {
  const x = required(ctx, inputs, 0);
  const s = shapeOf(x);
  const axes = axesOf(ctx, inputs, 13);
  if (!axes) fail(ctx, 'axes are missing');
  const rank = s.length + axes.length;
  const normal = axes.map((a) => normaliseAxis(ctx, a, rank)).sort((a, b) => a - b);
  const shape = [...s];
  for (const a of normal) shape.splice(a, 0, 1);
  return [withShape(x, shape)];
};

const squeeze: OpFunction = (ctx, inputs) => {
  const x = required(ctx, inputs, 0);
  const s = shapeOf(x);
  const axes = axesOf(ctx, inputs, 13)?.map((a) => normaliseAxis(ctx, a, s.length));
  const shape = s.filter((d, i) => (axes ? !axes.includes(i) : d !== 1));
  return [withShape(x, shape)];
};

const cast: OpFunction = (ctx, inputs) => {
  const x = required(ctx, inputs, 0);
  const to = attrInt(ctx, 'to', 1);
  const toFloat = to === 1 || to === 10 || to === 11 || to === 16;
  if (x.kind === 'host') {
    return [host(x.c.shape, toFloat ? Float32Array.from(x.c.data, Number) : Array.from(x.c.data, (v) => Math.trunc(Number(v))), !toFloat)];
  }
  if (!toFloat) fail(ctx, 'casting image data to integers has no gradient');
  return [x];
};

const slice: OpFunction = (ctx, inputs) => {
  const x = required(ctx, inputs, 0);
  const s = shapeOf(x);
  let starts: number[], ends: number[], axes: number[] | undefined, steps: number[] | undefined;
  if (ctx.opset >= 10) {
    starts = ints(hostOf(ctx, inputs[1], 'starts'));
    ends = ints(hostOf(ctx, inputs[2], 'ends'));
    axes = inputs[3] ? ints(hostOf(ctx, inputs[3], 'axes')) : undefined;
    steps = inputs[4] ? ints(hostOf(ctx, inputs[4], 'steps')) : undefined;
  } else {
    starts = attrInts(ctx, 'starts') ?? [];
    ends = attrInts(ctx, 'ends') ?? [];
    axes = attrInts(ctx, 'axes');
  }
  // Per axis, the indices taken (ONNX's clamping rules for positive and negative steps).
  const picks = new Map<number, number[]>();
  (axes ?? starts.map((_, i) => i)).forEach((axis, i) => {
    const a = normaliseAxis(ctx, axis, s.length);
    const step = steps?.[i] ?? 1;
    if (step === 0) fail(ctx, 'a step of 0 is not allowed');
    const dim = s[a];
    const at = (v: number) => (v < 0 ? v + dim : v);
    const first = step > 0 ? Math.min(Math.max(at(starts[i]), 0), dim) : Math.min(Math.max(at(starts[i]), -1), dim - 1);
    const last = step > 0 ? Math.min(Math.max(at(ends[i]), 0), dim) : Math.min(Math.max(at(ends[i]), -1), dim - 1);
    const taken: number[] = [];
    for (let k = first; step > 0 ? k < last : k > last; k += step) taken.push(k);
    picks.set(a, taken);
  });
  let out: Value = x;
  for (const [axis, taken] of picks) {
    const indices: HostTensor = { shape: [taken.length], data: taken, integer: true };
    if (out.kind === 'host') {
      out = hostGather(out.c, indices, axis);
    } else {
      const t = logical(out);
      const contiguous = taken.every((k, j) => k === taken[0] + j);
      out = tfValue(contiguous && taken.length > 0
        ? tf.slice(t, t.shape.map((_, d) => (d === axis ? taken[0] : 0)), t.shape.map((n, d) => (d === axis ? taken.length : n)))
        : tf.gather(t, tf.tensor1d(taken, 'int32'), axis));
    }
  }
  return [out];
};

const reduceMean: OpFunction = (ctx, inputs) => {
  const x = required(ctx, inputs, 0);
  const keep = attrInt(ctx, 'keepdims', 1) === 1;
  const rank = shapeOf(x).length;
  const listed = axesOf(ctx, inputs, 18);
  // No axes (absent, or an empty tensor) reduce every axis, unless noop_with_empty_axes (opset 18) says they reduce none.
  if ((listed ?? []).length === 0 && attrInt(ctx, 'noop_with_empty_axes', 0) === 1) return [x];
  const axes = (listed && listed.length > 0 ? listed : [...Array(rank).keys()]).map((a) => normaliseAxis(ctx, a, rank));
  if (x.kind === 'tf' && x.nhwc && keep) return [tfValue(tf.mean(x.t, axes.map((a) => NHWC_AXIS[a]), true), true)];
  return [tfValue(tf.mean(logical(x), axes, keep))];
};

const clip: OpFunction = (ctx, inputs) => {
  let lo: number, hi: number;
  if (ctx.opset < 11) {
    lo = attrFloat(ctx, 'min', -3.4e38);
    hi = attrFloat(ctx, 'max', 3.4e38);
  } else {
    lo = inputs[1] ? Number(hostOf(ctx, inputs[1], 'min').data[0]) : -3.4e38;
    hi = inputs[2] ? Number(hostOf(ctx, inputs[2], 'max').data[0]) : 3.4e38;
  }
  return unary((t) => tf.clipByValue(t, lo, hi))(ctx, inputs);
};

const constantOfShape: OpFunction = (ctx, inputs) => {
  const shape = ints(hostOf(ctx, inputs[0], 'the shape'));
  const a = ctx.attrs.get('value');
  const value = a?.t ? readTensorProto(a.t, `${describe(ctx.node)} value`) : { data: [0], integer: false, shape: [1] };
  const n = sizeOf(shape);
  if (shape.some((d) => !Number.isSafeInteger(d) || d < 0) || n > MAX_HOST_ELEMENTS) fail(ctx, `shape [${shape.join(',')}] is not a usable constant shape`);
  const fill = Number(value.data[0]);
  return [host(shape, value.integer ? new Array<number>(n).fill(fill) : new Float32Array(n).fill(fill), value.integer)];
};

const constant: OpFunction = (ctx) => {
  const [a] = ctx.node.attribute;
  if (!a) fail(ctx, 'has no value');
  switch (a.name) {
    case 'value':
      if (!a.t) fail(ctx, 'value is not a tensor');
      return [{ kind: 'host', c: readTensorProto(a.t, describe(ctx.node)) }];
    case 'value_float':
      return [host([], Float32Array.of(Number(a.f)), false)];
    case 'value_floats':
      return [host([a.floats.length], Float32Array.from(a.floats), false)];
    case 'value_int':
      return [host([], [Number(a.i)], true)];
    case 'value_ints':
      return [host([a.ints.length], a.ints.map(Number), true)];
    default:
      fail(ctx, `attribute ${shown(a.name)} is not supported`);
  }
};

/**
 * Pad, opsets 7-19: pads as an attribute (< 11) or an input, opset 18's `axes` input naming the axes
 * they apply to, negative pads cropping. Reflect, edge and wrap padding gather mirrored, clamped or
 * wrapped indices, so the gradient flows back to every pixel they copy.
 */
const pad: OpFunction = (ctx, inputs) => {
  const x = required(ctx, inputs, 0);
  const mode = attrString(ctx, 'mode', 'constant');
  if (mode !== 'constant' && mode !== 'reflect' && mode !== 'edge' && mode !== 'wrap') fail(ctx, `mode "${mode}" is not supported`);
  const rank = shapeOf(x).length;
  const given = ctx.opset >= 11 ? ints(hostOf(ctx, inputs[1], 'pads')) : (attrInts(ctx, 'pads') ?? []);
  const value = ctx.opset >= 11 ? (inputs[2] ? Number(hostOf(ctx, inputs[2], 'constant_value').data[0] ?? 0) : 0) : attrFloat(ctx, 'value', 0);
  const axes = (inputs[3] ? ints(hostOf(ctx, inputs[3], 'axes')) : [...Array(rank).keys()]).map((a) => normaliseAxis(ctx, a, rank));
  if (new Set(axes).size !== axes.length) fail(ctx, `axes [${axes.join(',')}] name an axis twice`);
  if (given.length !== 2 * axes.length) fail(ctx, `pads has ${given.length} values for ${axes.length} axes`);
  const paddings = [...Array(rank).keys()].map((): [number, number] => [0, 0]);
  axes.forEach((a, i) => (paddings[a] = [given[i], given[i + axes.length]]));
  let t = logical(x);
  // Negative pads crop first; what is left is padded.
  if (paddings.some(([before, after]) => before < 0 || after < 0)) {
    const begin = paddings.map(([before]) => Math.max(0, -before));
    const size = t.shape.map((d, i) => d - begin[i] - Math.max(0, -paddings[i][1]));
    if (size.some((d) => d < 0)) fail(ctx, `pads [${given.join(',')}] crop more than the tensor holds`);
    t = tf.slice(t, begin, size);
  }
  const grow = paddings.map(([before, after]): [number, number] => [Math.max(0, before), Math.max(0, after)]);
  if (mode === 'constant') return [tfValue(tf.pad(t, grow, value))];
  // Not tf.mirrorPad for reflect: its gradient (TF.js 4) only slices, dropping what the mirrored copies add.
  if (mode === 'reflect' && grow.some(([before, after], i) => Math.max(before, after) >= t.shape[i])) fail(ctx, 'reflect pads must be smaller than the axis they pad');
  const sourceIndex = (k: number, dim: number): number => {
    if (mode === 'edge') return Math.min(Math.max(k, 0), dim - 1);
    if (mode === 'wrap') return ((k % dim) + dim) % dim;
    return k < 0 ? -k : k >= dim ? 2 * (dim - 1) - k : k;
  };
  for (const [axis, [before, after]] of grow.entries()) {
    if (before === 0 && after === 0) continue;
    const dim = t.shape[axis];
    if (dim === 0) fail(ctx, `cannot pad an empty axis in mode "${mode}"`);
    const indices = Array.from({ length: dim + before + after }, (_, i) => sourceIndex(i - before, dim));
    t = tf.gather(t, tf.tensor1d(indices, 'int32'), axis);
  }
  return [tfValue(t)];
};

/** Bounds a constant made from a shape (a corrupt file could ask for 10^15 elements). */
const MAX_HOST_ELEMENTS = 1 << 28;

const passThrough: OpFunction = (ctx, inputs) => [required(ctx, inputs, 0)];

export const ONNX_OPERATORS: Readonly<Record<string, OpFunction>> = {
  Conv: conv,
  ConvTranspose: convTranspose,
  Resize: resize,
  Upsample: upsample,
  Gemm: gemm,
  MatMul: (ctx, inputs) => [tfValue(tf.matMul(logical(required(ctx, inputs, 0)), logical(required(ctx, inputs, 1))))],
  Add: binary(tf.add, (x, y) => x + y),
  Sub: binary(tf.sub, (x, y) => x - y),
  Mul: binary(tf.mul, (x, y) => x * y),
  // Integer tensors divide as integers (shape arithmetic); float constants that happen to hold whole numbers do not: 6.0 / 4.0 is 1.5.
  Div: binary(tf.div, (x, y, integer) => (integer ? Math.trunc(x / y) : x / y)),
  Pow: binary(tf.pow, (x, y) => x ** y),
  Sqrt: unary((t) => tf.sqrt(t)),
  Relu: unary((t) => tf.relu(t)),
  LeakyRelu: unary((t, ctx) => tf.leakyRelu(t, attrFloat(ctx, 'alpha', 0.01))),
  // relu(x) − slope·relu(−x), not tf.where: TF.js has no gradient through the comparison a where needs.
  PRelu: binary((x, slope) => tf.sub(tf.relu(x), tf.mul(slope, tf.relu(tf.neg(x))))),
  Sigmoid: unary((t) => tf.sigmoid(t)),
  Tanh: unary((t) => tf.tanh(t)),
  Elu: unary((t, ctx) => {
    const alpha = attrFloat(ctx, 'alpha', 1);
    return alpha === 1 ? tf.elu(t) : tf.add(tf.relu(t), tf.mul(tf.sub(tf.exp(tf.minimum(t, 0)), 1), alpha));
  }),
  HardSigmoid: unary((t, ctx) => tf.clipByValue(tf.add(tf.mul(t, attrFloat(ctx, 'alpha', 0.2)), attrFloat(ctx, 'beta', 0.5)), 0, 1)),
  HardSwish: unary((t) => tf.mul(t, tf.clipByValue(tf.add(tf.div(t, 6), 0.5), 0, 1))),
  Clip: clip,
  Softmax: softmaxOp((t) => tf.softmax(t)),
  LogSoftmax: softmaxOp((t) => tf.logSoftmax(t)),
  MaxPool: maxPool,
  AveragePool: averagePool,
  GlobalAveragePool: (ctx, inputs) => [tfValue(tf.mean(nhwcOf(ctx, required(ctx, inputs, 0)), [1, 2], true), true)],
  GlobalMaxPool: (ctx, inputs) => [tfValue(tf.max(nhwcOf(ctx, required(ctx, inputs, 0)), [1, 2], true), true)],
  BatchNormalization: batchNorm,
  Flatten: flatten,
  Reshape: reshape,
  Transpose: transpose,
  Identity: passThrough,
  Dropout: passThrough,
  Concat: concat,
  Constant: constant,
  ConstantOfShape: constantOfShape,
  Shape: shapeOp,
  Gather: gather,
  Unsqueeze: unsqueeze,
  Squeeze: squeeze,
  Cast: cast,
  Slice: slice,
  ReduceMean: reduceMean,
  Pad: pad,
};

// ---- the network ---------------------------------------------------------------------------------

/** What a classifier needs of a network that is not a TF.js model. */
export interface OnnxNetwork {
  /** [batch, height, width, channels] of the images `forward` takes (NHWC); null where free. */
  readonly inputShape: (number | null)[];
  /** Number of outputs per image, when the graph declares it. */
  readonly outputSize?: number;
  /** The opset of the default domain, the producer, and what the graph's input is called. */
  readonly opset: number;
  readonly producer: string;
  readonly inputName: string;
  /** The layout of the graph's input: NCHW (PyTorch) is fed our NHWC images as they are stored. */
  readonly inputLayout: 'NCHW' | 'NHWC';
  /** The operator that computes the output ('Softmax' means the model outputs probabilities). */
  readonly outputOperator: string;
  /** NHWC images → the graph's first output, differentiable (call inside tf.tidy). */
  forward(images: tf.Tensor4D): tf.Tensor;
  dispose(): void;
}

function staticDims(info: OnnxValueInfo | undefined): (number | null)[] | undefined {
  const dims = info?.type?.tensorType?.shape?.dim;
  if (!dims) return undefined;
  return dims.map((d) => (d.dimParam || !d.dimValue || d.dimValue <= 0 ? null : Number(d.dimValue)));
}

/**
 * Runs one node. What TF.js itself refuses (a corrupt or inconsistent file: a transpose perm out of
 * range, shapes that do not broadcast) becomes a one-line ModelError naming the node, like ours.
 */
function runNode(op: OpFunction, ctx: NodeContext, inputs: (Value | undefined)[]): Value[] {
  try {
    return op(ctx, inputs);
  } catch (error) {
    if (error instanceof ModelError) throw error;
    throw new ModelError(`ONNX ${describe(ctx.node)}: ${(error instanceof Error ? error.message : String(error)).split('\n')[0]}`);
  }
}

/** One error for every operator we cannot run, each with the name of a node that uses it. */
function checkOperators(nodes: readonly OnnxNodeProto[], file: string): void {
  const unsupported = new Map<string, string>();
  for (const node of nodes) {
    const domain = node.domain && node.domain !== 'ai.onnx' ? `${shown(node.domain)}.` : '';
    const key = `${domain}${shown(node.opType)}`;
    if ((domain || !Object.hasOwn(ONNX_OPERATORS, node.opType)) && !unsupported.has(key)) unsupported.set(key, shown(node.name || node.output[0] || '?'));
  }
  if (unsupported.size > 0) {
    const list = [...unsupported].map(([op, name]) => `${op} (node "${name}")`).join(', ');
    throw new ModelError(`${file} uses ONNX operators Foolprint does not support: ${list}`);
  }
}

/**
 * Builds the network of a decoded ONNX model. Checks every operator before anything runs, folds what
 * depends only on constants, and prepares convolution filters and batch-norm factors once.
 */
export function buildOnnxNetwork(model: OnnxModelProto, file: string): OnnxNetwork {
  const graph = model.graph!;
  const opsetEntry = model.opsetImport.find((o) => o.domain === '' || o.domain === 'ai.onnx');
  const opset = opsetEntry ? Number(opsetEntry.version) : 1;
  if (opset < 7) throw new ModelError(`${file} uses ONNX opset ${opset}; Foolprint reads opset 7 and later (re-export with opset_version ≥ 11)`);
  checkOperators(graph.node, file);

  const constants = new Map<string, HostTensor>();
  for (const init of graph.initializer) constants.set(init.name, readTensorProto(init, `${file}: initializer "${shown(init.name)}"`));
  const graphInputs = graph.input.filter((i) => !constants.has(i.name));
  if (graphInputs.length !== 1) {
    throw new ModelError(`${file}: an image classifier takes one input, this graph takes ${graphInputs.length} (${graphInputs.map((i) => shown(i.name)).join(', ')})`);
  }
  const input = graphInputs[0];
  const dims = staticDims(input);
  if (!dims || dims.length !== 4) {
    throw new ModelError(`${file}: input "${shown(input.name)}" has shape ${dims ? `[${dims.map((d) => d ?? '?').join(',')}]` : 'unknown'}, an image model takes [N,C,H,W] or [N,H,W,C]`);
  }
  // PyTorch exports NCHW; TensorFlow/Keras exports (tf2onnx) keep NHWC, which we then feed as it is.
  const isChannels = (d: number | null) => d === 1 || d === 3;
  const inputLayout: 'NCHW' | 'NHWC' = !isChannels(dims[1]) && isChannels(dims[3]) ? 'NHWC' : 'NCHW';
  const outputName = graph.output[0]?.name;
  if (!outputName) throw new ModelError(`${file}: the graph has no output`);
  const outDims = staticDims(graph.output[0]);
  const outLast = outDims?.[outDims.length - 1];

  const persistent: tf.Tensor[] = [];
  const env = new Map<string, Value>();
  const runtime: { ctx: NodeContext; op: OpFunction }[] = [];
  /** Names whose value depends on the image: everything else is known at load. */
  const dynamic = new Set<string>([input.name]);
  try {
    for (const [name, c] of constants) env.set(name, { kind: 'host', c });
    for (const node of graph.node) {
      const ctx: NodeContext = { node, opset, attrs: new Map(node.attribute.map((a) => [a.name, a])), prepared: new Map() };
      const op = ONNX_OPERATORS[node.opType];
      const isDynamic = node.input.some((name) => dynamic.has(name));
      if (!isDynamic) {
        // Folded once, at load.
        const inputs = node.input.map((name) => (name ? env.get(name) : undefined));
        let folded: (Value | undefined)[] = [];
        tf.tidy(() => {
          folded = runNode(op, ctx, inputs).map((v) => {
            if (v.kind === 'host') return v;
            const t = logical(v);
            return host(t.shape, Float32Array.from(t.dataSync()), false);
          });
        });
        node.output.forEach((name, i) => {
          const v = folded[i];
          if (name && v) env.set(name, v);
        });
        continue;
      }
      node.output.forEach((name) => dynamic.add(name));
      const consts = node.input.map((name) => (name && !dynamic.has(name) ? (env.get(name) as HostValue | undefined)?.c : undefined));
      if (node.opType === 'Conv' || node.opType === 'ConvTranspose') {
        if (!consts[1]) fail(ctx, 'weights computed from the image are not supported');
        (node.opType === 'Conv' ? prepareConv : prepareConvTranspose)(ctx, consts[1], consts[2]);
      } else if (node.opType === 'BatchNormalization') {
        prepareBatchNorm(ctx, consts);
      } else if (node.opType === 'Gemm' && consts[1]) {
        const b = tf.tensor(Float32Array.from(consts[1].data, Number), [...consts[1].shape]);
        ctx.prepared.set('B', attrInt(ctx, 'transB', 0) ? tf.transpose(b) : b);
        if (attrInt(ctx, 'transB', 0)) b.dispose();
        if (consts[2]) ctx.prepared.set('C', tf.tensor(Float32Array.from(consts[2].data, Number), [...consts[2].shape]));
      }
      for (const t of ctx.prepared.values()) persistent.push(t);
      // Float constants read by image-dependent nodes become TF.js tensors once.
      node.input.forEach((name, i) => {
        const c = consts[i];
        const v = env.get(name);
        if (c && !c.integer && v?.kind === 'host' && !v.t) {
          const t = tf.tensor(c.data as Float32Array, [...c.shape], 'float32');
          persistent.push(t);
          env.set(name, { ...v, t });
        }
      });
      runtime.push({ ctx, op });
    }
  } catch (error) {
    for (const t of persistent) t.dispose();
    throw error;
  }
  if (!dynamic.has(outputName)) {
    for (const t of persistent) t.dispose();
    throw new ModelError(`${file}: the output "${shown(outputName)}" does not depend on the input image`);
  }

  const [c, h, w] = inputLayout === 'NCHW' ? [dims[1], dims[2], dims[3]] : [dims[3], dims[1], dims[2]];
  const producer = `${model.producerName || 'unknown'}${model.producerVersion ? ` ${model.producerVersion}` : ''}`;
  return {
    inputShape: [null, h, w, c],
    ...(outLast ? { outputSize: outLast } : {}),
    opset,
    producer,
    inputName: input.name,
    inputLayout,
    outputOperator: graph.node.find((n) => n.output.includes(outputName))?.opType ?? '',
    forward(images: tf.Tensor4D): tf.Tensor {
      const values = new Map(env);
      values.set(input.name, tfValue(images, inputLayout === 'NCHW'));
      for (const { ctx, op } of runtime) {
        const outputs = runNode(op, ctx, ctx.node.input.map((name) => (name ? values.get(name) : undefined)));
        ctx.node.output.forEach((name, i) => {
          if (name && outputs[i]) values.set(name, outputs[i]);
        });
      }
      const out = values.get(outputName);
      if (!out) throw new ModelError(`${file}: the output "${shown(outputName)}" was never computed`);
      return logical(out);
    },
    dispose(): void {
      for (const t of persistent) t.dispose();
      persistent.length = 0;
    },
  };
}
