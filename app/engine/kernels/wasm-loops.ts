import type { WasmBackend } from './wasm-backend.js';

/**
 * Inner loops in WebAssembly SIMD, run on the WASM backend's own heap (its exported memory is
 * imported here), where the same loop in JS costs several times the backend's native kernels: JS
 * has no SIMD and branches on every comparison, mispredicted on noisy inputs. The module is a few
 * hundred bytes, assembled below from the opcodes it uses (WebAssembly core spec, §5 binary format),
 * so it needs no toolchain and no binary blob in the repository.
 *
 * Every function takes byte addresses on the heap and sizes as i32 and returns nothing.
 */

// Opcodes (WebAssembly core spec 1.0, §5.4).
/** Block type of a loop that leaves nothing on the stack. */
const VOID = 0x40;
const BLOCK = 0x02;
const LOOP = 0x03;
const END = 0x0b;
const BR = 0x0c;
const BR_IF = 0x0d;
const SELECT = 0x1b;
const LOCAL_GET = 0x20;
const LOCAL_SET = 0x21;
const LOCAL_TEE = 0x22;
const I32_CONST = 0x41;
const F32_CONST = 0x43;
const I32_EQZ = 0x45;
const I32_ADD = 0x6a;
const F32_LOAD = 0x2a;
const F32_STORE = 0x38;
const F32_ADD = 0x92;
const F32_REINTERPRET_I32 = 0xbe;
const I32_SUB = 0x6b;
const I32_MUL = 0x6c;
const I32_LT_S = 0x48;
const I32_GE_S = 0x4e;
const I32_SHR_U = 0x76;
const I32 = 0x7f;
const V128 = 0x7b;
// SIMD (prefix 0xfd), WebAssembly core spec 2.0 §5.4.8.
const V128_LOAD = 0x00;
const V128_LOAD32_SPLAT = 0x09;
const V128_CONST = 0x0c;
const V128_STORE = 0x0b;
const F32X4_SPLAT = 0x13;
const F32X4_EQ = 0x41;
const F32X4_GT = 0x44;
const F32X4_LE = 0x45;
const F32X4_GE = 0x46;
const V128_AND = 0x4e;
const V128_ANDNOT = 0x4f;
const V128_BITSELECT = 0x52;
const F32X4_ADD = 0xe4;
const F32X4_MUL = 0xe6;
const F32X4_EXTRACT_LANE = 0x1f;
const I32X4_SPLAT = 0x11;
const I32X4_MAX_S = 0xb8;

function leb(value: number): number[] {
  const out: number[] = [];
  let v = value;
  for (;;) {
    const byte = v & 0x7f;
    v >>= 7;
    const done = (v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return out;
  }
}

function uleb(value: number): number[] {
  const out: number[] = [];
  let v = value >>> 0;
  do {
    const byte = v & 0x7f;
    v >>>= 7;
    out.push(v ? byte | 0x80 : byte);
  } while (v);
  return out;
}

const get = (local: number) => [LOCAL_GET, ...uleb(local)];
const simd = (op: number) => [0xfd, ...uleb(op)];
const set = (local: number) => [LOCAL_SET, ...uleb(local)];
const tee = (local: number) => [LOCAL_TEE, ...uleb(local)];
const i32 = (value: number) => [I32_CONST, ...leb(value)];
const f32 = (value: number) => [F32_CONST, ...new Uint8Array(Float32Array.of(value).buffer)];
/** local -= 1, then loop again while it is not 0 (so every loop runs at least once). */
const countDown = (local: number) => [...get(local), ...i32(1), I32_SUB, ...tee(local), BR_IF, 0];
const addTo = (local: number, amount: number[]) => [...get(local), ...amount, I32_ADD, ...set(local)];

interface LoopFunction {
  name: string;
  params: number;
  /** Extra locals, in order after the params. */
  locals: number[];
  body: number[];
}

/**
 * maxPool2x2Backprop(x, dy, delta, outWidth, channels, rowBytes), channels ≥ 4: one row of 2x2/2
 * windows, four channels at a time (SIMD; a last group overlapping the previous one covers channel
 * counts that are not multiples of 4, writing the same values twice). x: the window row's first input
 * value; dy: the row's first gradient; dx = x + delta (same layout); rowBytes: one input row in bytes.
 * Every dx value under a window is written: dy at the window's first strict maximum from −∞ (NaN and
 * −∞ never win), 0 elsewhere, as in TF.js's CPU kernel. Comparisons give lane masks, so no branch
 * depends on the data.
 */
function maxPool2x2Backprop(): LoopFunction {
  const [x, dy, delta, outWidth, channels, rowBytes] = [0, 1, 2, 3, 4, 5];
  const [window, group, groups, offset, channelBytes, lastOffset] = [6, 7, 8, 9, 10, 11];
  const [best, w0, w1, w2, w3, gradient, value] = [12, 13, 14, 15, 16, 17, 18];
  const tapAddress = (tap: number[]) => [...get(x), ...get(offset), I32_ADD, ...tap, I32_ADD];
  // value = x[tap]; w = value > best; best = w ? value : best (lane by lane).
  const compare = (tap: number[], won: number) => [
    ...tapAddress(tap), ...simd(V128_LOAD), 4, 0, ...set(value),
    ...get(value), ...get(best), ...simd(F32X4_GT), ...set(won),
    ...get(value), ...get(best), ...get(won), ...simd(V128_BITSELECT), ...set(best),
  ];
  // dx[tap] = dy where this tap is the last to have raised the maximum (the first maximum), else 0.
  const write = (tap: number[], won: number, later: number[]) => [
    ...tapAddress(tap), ...get(delta), I32_ADD,
    ...get(gradient), ...get(won), ...simd(V128_AND),
    ...later.flatMap((l) => [...get(l), ...simd(V128_ANDNOT)]),
    ...simd(V128_STORE), 4, 0,
  ];
  const right = get(channelBytes);
  const below = get(rowBytes);
  const belowRight = [...get(rowBytes), ...get(channelBytes), I32_ADD];
  return {
    name: 'maxPool2x2Backprop',
    params: 6,
    locals: [I32, I32, I32, I32, I32, I32, V128, V128, V128, V128, V128, V128, V128],
    body: [
      ...get(channels), ...i32(4), I32_MUL, ...set(channelBytes),
      ...get(channelBytes), ...i32(16), I32_SUB, ...set(lastOffset),
      ...get(channels), ...i32(3), I32_ADD, ...i32(2), I32_SHR_U, ...set(groups),
      ...get(outWidth), ...set(window),
      LOOP, VOID,
      ...i32(0), ...set(offset),
      ...get(groups), ...set(group),
      LOOP, VOID,
      // offset = min(offset, lastOffset): the last group ends at the last channel.
      ...get(offset), ...get(lastOffset), ...get(offset), ...get(lastOffset), I32_LT_S, SELECT, ...set(offset),
      ...f32(Number.NEGATIVE_INFINITY), ...simd(F32X4_SPLAT), ...set(best),
      ...compare(i32(0), w0), ...compare(right, w1), ...compare(below, w2), ...compare(belowRight, w3),
      ...get(dy), ...get(offset), I32_ADD, ...simd(V128_LOAD), 4, 0, ...set(gradient),
      ...write(i32(0), w0, [w1, w2, w3]), ...write(right, w1, [w2, w3]), ...write(below, w2, [w3]), ...write(belowRight, w3, []),
      ...addTo(offset, i32(16)),
      ...countDown(group),
      END,
      ...addTo(dy, get(channelBytes)),
      ...addTo(x, [...get(channelBytes), ...i32(2), I32_MUL]),
      ...countDown(window),
      END,
    ],
  };
}

/**
 * col2imRuns(dst, src, windows, taps, run, dstWindowStep, srcWindowStep, dstTapStep, srcTapStep):
 * for each of `windows` windows, for each of its `taps` rows, dst[0..run) += src[0..run) (floats),
 * the row's addresses advancing by the tap steps, each window's by the window steps (bytes). The
 * scatter-add of col2im, four floats at a time, then one at a time.
 */
function col2imRuns(): LoopFunction {
  const [dst, src, windows, taps, run, dstWindowStep, srcWindowStep, dstTapStep, srcTapStep] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const [tap, left, d, s, dstRow, srcRow] = [9, 10, 11, 12, 13, 14];
  return {
    name: 'col2imRuns',
    params: 9,
    locals: [I32, I32, I32, I32, I32, I32],
    body: [
      LOOP, VOID,
      ...get(dst), ...set(dstRow),
      ...get(src), ...set(srcRow),
      ...get(taps), ...set(tap),
      LOOP, VOID,
      ...get(dstRow), ...set(d),
      ...get(srcRow), ...set(s),
      ...get(run), ...set(left),
      BLOCK, VOID, LOOP, VOID,
      ...get(left), ...i32(4), I32_LT_S, BR_IF, 1,
      ...get(d), ...get(d), ...simd(V128_LOAD), 2, 0, ...get(s), ...simd(V128_LOAD), 2, 0, ...simd(F32X4_ADD), ...simd(V128_STORE), 2, 0,
      ...addTo(d, i32(16)), ...addTo(s, i32(16)), ...get(left), ...i32(4), I32_SUB, ...set(left),
      BR, 0,
      END, END,
      BLOCK, VOID, LOOP, VOID,
      ...get(left), I32_EQZ, BR_IF, 1,
      ...get(d), ...get(d), F32_LOAD, 2, 0, ...get(s), F32_LOAD, 2, 0, F32_ADD, F32_STORE, 2, 0,
      ...addTo(d, i32(4)), ...addTo(s, i32(4)), ...get(left), ...i32(1), I32_SUB, ...set(left),
      BR, 0,
      END, END,
      ...addTo(dstRow, get(dstTapStep)), ...addTo(srcRow, get(srcTapStep)),
      ...countDown(tap),
      END,
      ...addTo(dst, get(dstWindowStep)), ...addTo(src, get(srcWindowStep)),
      ...countDown(windows),
      END,
    ],
  };
}

/** The shape a row-wise col2im (col2imRows) is generated for: one input channel, stride 1, no padding. */
export interface Col2imRowsShape {
  filterHeight: number;
  filterWidth: number;
  outHeight: number;
  outWidth: number;
}

/**
 * col2imRows(cols, dx, images): col2im for one input channel, stride 1 and no padding (LeNet's conv1
 * input gradient), with each input row of dx held in registers (inWidth/4 vectors) while every window
 * that covers it is added in, instead of adding window by window in memory, where each window's
 * writes overlap the next one's reads. cols: per image, per window (y, x), its kh·kw values (the
 * GEMM's rows); dx: NHWC with one channel, inWidth a multiple of 4.
 *
 * Bit-identical to col2imRuns over the windows in order: every dx value starts at +0 and receives its
 * windows' values in the same order (y ascending, then x ascending), one f32 addition each. A window
 * reaches a vector of dx through one unaligned load, its lanes outside the window masked to +0; adding
 * +0 changes no sum here (a sum that starts at +0 is never −0, and NaN and ±∞ stay as they are).
 */
function col2imRowsFunction(shape: Col2imRowsShape): LoopFunction {
  const { filterHeight: kh, filterWidth: kw, outHeight, outWidth } = shape;
  const inHeight = outHeight + kh - 1;
  const inWidth = outWidth + kw - 1;
  const vectors = inWidth / 4;
  const rowLength = kh * kw;
  const windowRowBytes = outWidth * rowLength * 4;
  const [cols, dx, images] = [0, 1, 2];
  const [r, a, aStop, base] = [3, 4, 5, 6];
  const firstAcc = 7;
  const v128Const = (lanes: number[]) => [...simd(V128_CONST), ...new Uint8Array(Int32Array.from(lanes).buffer)];
  const windows: number[] = [];
  for (let x = 0; x < outWidth; x++) {
    for (let k = Math.floor(x / 4); k <= Math.floor((x + kw - 1) / 4); k++) {
      const lanes = [0, 1, 2, 3].map((j) => 4 * k + j - x);
      const inside = lanes.map((b) => (b >= 0 && b < kw ? -1 : 0));
      windows.push(...get(firstAcc + k), ...get(base), ...simd(V128_LOAD), 0, ...uleb(x * rowLength * 4 + (4 * k - x) * 4));
      if (inside.some((m) => m === 0)) windows.push(...v128Const(inside), ...simd(V128_AND));
      windows.push(...simd(F32X4_ADD), ...set(firstAcc + k));
    }
  }
  const body: number[] = [
    LOOP, VOID,
    ...i32(0), ...set(r),
    LOOP, VOID,
  ];
  for (let k = 0; k < vectors; k++) body.push(...f32(0), ...simd(F32X4_SPLAT), ...set(firstAcc + k));
  body.push(
    // a from min(kh−1, r) down to max(0, r−outHeight+1): windows y = r − a ascending.
    ...i32(kh - 1), ...get(r), ...i32(kh - 1), ...get(r), I32_LT_S, SELECT, ...set(a),
    ...get(r), ...i32(outHeight - 1), I32_SUB, ...i32(0), ...get(r), ...i32(outHeight - 1), I32_SUB, ...i32(0), I32_GE_S, SELECT, ...set(aStop),
    LOOP, VOID,
    // base = cols + (r − a)·windowRowBytes + a·kw·4
    ...get(cols), ...get(r), ...get(a), I32_SUB, ...i32(windowRowBytes), I32_MUL, I32_ADD,
    ...get(a), ...i32(kw * 4), I32_MUL, I32_ADD, ...set(base),
    ...windows,
    ...get(a), ...i32(1), I32_SUB, ...tee(a), ...get(aStop), I32_GE_S, BR_IF, 0,
    END,
  );
  for (let k = 0; k < vectors; k++) body.push(...get(dx), ...get(firstAcc + k), ...simd(V128_STORE), 0, ...uleb(16 * k));
  body.push(
    ...addTo(dx, i32(inWidth * 4)),
    ...addTo(r, i32(1)),
    ...get(r), ...i32(inHeight), I32_LT_S, BR_IF, 0,
    END,
    ...addTo(cols, i32(outHeight * windowRowBytes)),
    ...countDown(images),
    END,
  );
  return {
    name: 'col2imRows',
    params: 3,
    locals: [I32, I32, I32, I32, ...Array<number>(vectors).fill(V128)],
    body,
  };
}

/** The shape a direct convolution (directConvolution) is generated for: every size is a constant in its code. */
export interface DirectConvolutionShape {
  filterHeight: number;
  filterWidth: number;
  inChannels: number;
  outChannels: number;
  /** The padded input's planes: [inChannels, paddedHeight, paddedWidth] per image. */
  paddedHeight: number;
  paddedWidth: number;
  outHeight: number;
  /** At least 4. */
  outWidth: number;
  strideHeight: number;
  relu: boolean;
  /** Whether a bias is added (else the sums start at +0, as XNNPACK's without one). */
  bias: boolean;
}

/**
 * Output channels per pass over the taps. With two vectors of four pixels that is 10 accumulators,
 * which with the inputs and the weight fit the 16 SIMD registers of x86-64 and ARM64. On LeNet's conv1
 * at batch 256 (one loaded machine, CPU time, best of 10): 4 pixels x 12 channels 7.0 ms, 4x4 6.4,
 * 8x2 5.7, 8x5 5.8, 8x3 5.5, 12x3 5.2; with the taps fully unrolled instead of looped 9-13 ms (V8's
 * optimising tier handled the long straight-line code worse than its baseline tier).
 */
const CHANNELS_PER_PASS = 5;

/**
 * directConvolution(input, filter, bias, out, images): a stride-1-across convolution, four adjacent
 * output pixels of a row per f32x4 and every output channel in its own accumulator, the taps unrolled
 * with their offsets as constants. input: per image, the channel planes of the zero-padded input
 * ([inChannels, paddedHeight, paddedWidth]); filter: the layer's own [kh, kw, cin, cout] tensor and
 * bias its [cout], each weight loaded straight into all four lanes (v128.load32_splat), so no copy of
 * the weights is made per call; out: NHWC.
 *
 * Each output value is computed as XNNPACK's f32 igemm micro-kernels compute it (the backend's
 * Conv2D/FusedConv2D), so results are bit-identical: acc = bias (or +0), then for ky, for kx, for ci:
 * acc = acc + x·w, one rounding for the product and one for the sum (f32x4.mul and f32x4.add; WebAssembly
 * never fuses them), padding taps contributing 0·w; fused ReLU as XNNPACK's, an integer max with 0 on
 * the bits (−0 and negative NaNs become +0). Each lane's order is fixed by the code, whatever the
 * batch or the row: a last group of four that would run past the row's end overlaps the previous one
 * and writes the same values again.
 */
function directConvolutionFunction(shape: DirectConvolutionShape, vectors: number, channelsPerPass: number): LoopFunction {
  const { filterHeight: kh, filterWidth: kw, inChannels: cin, outChannels: cout, paddedHeight: hp, paddedWidth: wp } = shape;
  const { outHeight, outWidth, strideHeight, relu, bias: hasBias } = shape;
  const [input, filter, bias, out, images] = [0, 1, 2, 3, 4];
  const [rowIn, rowOut, rows, px, inAt, outAt] = [5, 6, 7, 8, 9, 10];
  const weight = 11;
  const firstValue = 12;
  const passes = Math.ceil(cout / channelsPerPass);
  const perPass = Math.ceil(cout / passes);
  const firstAcc = firstValue + vectors;
  const acc = (v: number, o: number) => firstAcc + v * perPass + o;
  const memarg = (align: number, offset: number) => [align, ...uleb(offset)];
  const groupBody: number[] = [];
  const [tapIn, tapWeight, kyLeft, kxLeft] = [firstAcc + vectors * perPass, firstAcc + vectors * perPass + 1, firstAcc + vectors * perPass + 2, firstAcc + vectors * perPass + 3];
  for (let first = 0; first < cout; first += perPass) {
    const count = Math.min(perPass, cout - first);
    for (let o = 0; o < count; o++) {
      groupBody.push(...(hasBias ? [...get(bias), ...simd(V128_LOAD32_SPLAT), ...memarg(2, (first + o) * 4)] : [...f32(0), ...simd(F32X4_SPLAT)]), ...set(acc(0, o)));
      for (let v = 1; v < vectors; v++) groupBody.push(...get(acc(0, o)), ...set(acc(v, o)));
    }
    // Taps in loops (ky, kx), input channels and this pass's output channels unrolled.
    groupBody.push(
      ...get(inAt), ...set(tapIn),
      ...get(filter), ...i32(first * 4), I32_ADD, ...set(tapWeight),
      ...i32(kh), ...set(kyLeft),
      LOOP, VOID,
      ...i32(kw), ...set(kxLeft),
      LOOP, VOID,
    );
    for (let ci = 0; ci < cin; ci++) {
      for (let v = 0; v < vectors; v++) {
        groupBody.push(...get(tapIn), ...simd(V128_LOAD), ...memarg(0, (ci * hp * wp + 4 * v) * 4), ...set(firstValue + v));
      }
      for (let o = 0; o < count; o++) {
        groupBody.push(...get(tapWeight), ...simd(V128_LOAD32_SPLAT), ...memarg(2, (ci * cout + o) * 4), ...set(weight));
        for (let v = 0; v < vectors; v++) {
          groupBody.push(...get(acc(v, o)), ...get(firstValue + v), ...get(weight), ...simd(F32X4_MUL), ...simd(F32X4_ADD), ...set(acc(v, o)));
        }
      }
    }
    groupBody.push(
      ...addTo(tapIn, i32(4)),
      ...addTo(tapWeight, i32(cin * cout * 4)),
      ...countDown(kxLeft),
      END,
      ...addTo(tapIn, i32((wp - kw) * 4)),
      ...countDown(kyLeft),
      END,
    );
    for (let o = 0; o < count; o++) {
      for (let v = 0; v < vectors; v++) {
        if (relu) groupBody.push(...get(acc(v, o)), ...i32(0), ...simd(I32X4_SPLAT), ...simd(I32X4_MAX_S), ...set(acc(v, o)));
        for (let lane = 0; lane < 4; lane++) {
          groupBody.push(...get(outAt), ...get(acc(v, o)), ...simd(F32X4_EXTRACT_LANE), lane,
            F32_STORE, ...memarg(2, ((4 * v + lane) * cout + first + o) * 4));
        }
      }
    }
  }
  const width = 4 * vectors;
  const lastGroup = outWidth - width;
  const body = [
    ...get(out), ...set(rowOut),
    LOOP, VOID,
    ...get(input), ...set(rowIn),
    ...i32(outHeight), ...set(rows),
    LOOP, VOID,
    ...i32(0), ...set(px),
    LOOP, VOID,
    // px = min(px, lastGroup)
    ...get(px), ...i32(lastGroup), ...get(px), ...i32(lastGroup), I32_LT_S, SELECT, ...set(px),
    ...get(rowIn), ...get(px), ...i32(4), I32_MUL, I32_ADD, ...set(inAt),
    ...get(rowOut), ...get(px), ...i32(cout * 4), I32_MUL, I32_ADD, ...set(outAt),
    ...groupBody,
    ...addTo(px, i32(width)),
    ...get(px), ...i32(outWidth), I32_LT_S, BR_IF, 0,
    END,
    ...addTo(rowIn, i32(strideHeight * wp * 4)),
    ...addTo(rowOut, i32(outWidth * cout * 4)),
    ...countDown(rows),
    END,
    ...addTo(input, i32(cin * hp * wp * 4)),
    ...countDown(images),
    END,
  ];
  return {
    name: 'directConvolution',
    params: 5,
    locals: [I32, I32, I32, I32, I32, I32, V128, ...Array<number>(vectors + vectors * perPass).fill(V128), I32, I32, I32, I32],
    body,
  };
}

/**
 * clipGradient(dy, x, out, groups, minBits, maxBits): ClipByValue's gradient (clip-gradient.ts), four
 * floats at a time for `groups` groups: out = dy where min ≤ x ≤ max, else +0 (x NaN fails both
 * comparisons). The bounds come as the bits of their float32 values. The mask keeps dy's bits as they
 * are (−0 and NaN included) and clears them elsewhere.
 */
function clipGradient(): LoopFunction {
  const [dy, x, out, groups, minBits, maxBits] = [0, 1, 2, 3, 4, 5];
  const [min, max, value] = [6, 7, 8];
  return {
    name: 'clipGradient',
    params: 6,
    locals: [V128, V128, V128],
    body: [
      ...get(minBits), F32_REINTERPRET_I32, ...simd(F32X4_SPLAT), ...set(min),
      ...get(maxBits), F32_REINTERPRET_I32, ...simd(F32X4_SPLAT), ...set(max),
      LOOP, VOID,
      ...get(x), ...simd(V128_LOAD), 2, 0, ...set(value),
      ...get(out),
      ...get(dy), ...simd(V128_LOAD), 2, 0,
      ...get(value), ...get(min), ...simd(F32X4_GE),
      ...get(value), ...get(max), ...simd(F32X4_LE),
      ...simd(V128_AND), ...simd(V128_AND),
      ...simd(V128_STORE), 2, 0,
      ...addTo(dy, i32(16)), ...addTo(x, i32(16)), ...addTo(out, i32(16)),
      ...countDown(groups),
      END,
    ],
  };
}

/**
 * reluGradient(dy, x, out, groups): ReLU's gradient dy·step(x) (relu-gradient.ts), four floats at a
 * time for `groups` groups: dy where x > 0; where x ≤ 0, dy·(+0) as a float product (±0 by dy's sign,
 * NaN for an infinite or NaN dy); NaN where x is NaN, as TF.js's Step gives.
 */
function reluGradientLoop(): LoopFunction {
  const [dy, x, out, groups] = [0, 1, 2, 3];
  const [zero, nan, value, g] = [4, 5, 6, 7];
  return {
    name: 'reluGradient',
    params: 4,
    locals: [V128, V128, V128, V128],
    body: [
      ...f32(0), ...simd(F32X4_SPLAT), ...set(zero),
      ...f32(Number.NaN), ...simd(F32X4_SPLAT), ...set(nan),
      LOOP, VOID,
      ...get(x), ...simd(V128_LOAD), 2, 0, ...set(value),
      ...get(dy), ...simd(V128_LOAD), 2, 0, ...set(g),
      ...get(out),
      // x > 0 ? dy : (x = x ? dy·0 : NaN)
      ...get(g),
      ...get(g), ...get(zero), ...simd(F32X4_MUL),
      ...get(nan),
      ...get(value), ...get(value), ...simd(F32X4_EQ),
      ...simd(V128_BITSELECT),
      ...get(value), ...get(zero), ...simd(F32X4_GT),
      ...simd(V128_BITSELECT),
      ...simd(V128_STORE), 2, 0,
      ...addTo(dy, i32(16)), ...addTo(x, i32(16)), ...addTo(out, i32(16)),
      ...countDown(groups),
      END,
    ],
  };
}

function section(id: number, content: number[]): number[] {
  return [id, ...uleb(content.length), ...content];
}

function vector(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

function name(text: string): number[] {
  const bytes = [...new TextEncoder().encode(text)];
  return [...uleb(bytes.length), ...bytes];
}

function assemble(functions: LoopFunction[]): Uint8Array {
  const types = functions.map((f) => [0x60, ...uleb(f.params), ...Array(f.params).fill(I32), 0]);
  const imports = [[...name('env'), ...name('memory'), 0x02, 0x00, ...uleb(1)]];
  const bodies = functions.map((f) => {
    // Locals are declared in runs of one type.
    const runs: number[][] = [];
    for (const type of f.locals) {
      const last = runs[runs.length - 1];
      if (last && last[1] === type) last[0]++;
      else runs.push([1, type]);
    }
    const code = [...vector(runs.map(([n, type]) => [...uleb(n), type])), ...f.body, END];
    return [...uleb(code.length), ...code];
  });
  return Uint8Array.from([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vector(types)),
    ...section(2, vector(imports)),
    ...section(3, vector(functions.map((_, i) => uleb(i)))),
    ...section(7, vector(functions.map((f, i) => [...name(f.name), 0x00, ...uleb(i)]))),
    ...section(10, vector(bodies)),
  ]);
}

export interface WasmLoops {
  maxPool2x2Backprop(x: number, dy: number, delta: number, outWidth: number, channels: number, rowBytes: number): void;
  col2imRuns(
    dst: number, src: number, windows: number, taps: number, run: number,
    dstWindowStep: number, srcWindowStep: number, dstTapStep: number, srcTapStep: number,
  ): void;
  clipGradient(dy: number, x: number, out: number, groups: number, minBits: number, maxBits: number): void;
  reluGradient(dy: number, x: number, out: number, groups: number): void;
}

/** The WebAssembly global of Node and browsers (app/ is compiled without DOM or Node typings). */
interface WebAssemblyApi {
  Memory: abstract new (...args: never[]) => object;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: object };
}

const loopsByMemory = new WeakMap<object, WasmLoops | undefined>();

let enabled = true;

/**
 * Turns the loops off (or on again): kernels then take the routes they take where the loops cannot
 * run (threaded or non-SIMD builds), so tests and benchmarks can check and time those routes too.
 */
export function setWasmLoopsEnabled(on: boolean): void {
  enabled = on;
}

/**
 * The loops bound to the backend's heap, or undefined where they cannot run there: the memory out of
 * reach, no SIMD, or the threaded build's shared memory (the import here is declared unshared).
 * Callers then keep their JS loop.
 */
export function wasmLoops(backend: WasmBackend): WasmLoops | undefined {
  const api = (globalThis as { WebAssembly?: WebAssemblyApi }).WebAssembly;
  const memory = (backend as unknown as { wasm?: { asm?: { memory?: unknown } } }).wasm?.asm?.memory;
  if (!enabled || !api || !(memory instanceof api.Memory)) return undefined;
  if (!loopsByMemory.has(memory)) {
    let loops: WasmLoops | undefined;
    try {
      const module = new api.Module(assemble([maxPool2x2Backprop(), col2imRuns(), clipGradient(), reluGradientLoop()]));
      loops = new api.Instance(module, { env: { memory } }).exports as WasmLoops;
    } catch {
      loops = undefined;
    }
    loopsByMemory.set(memory, loops);
  }
  return loopsByMemory.get(memory);
}

/** Byte addresses on the heap; bias is ignored when the shape has none. */
export type DirectConvolution = (input: number, filter: number, bias: number, out: number, images: number) => void;

/** Loops generated per shape, by heap, then by function name and shape (undefined where one did not compile). */
const generatedByMemory = new WeakMap<object, Map<string, unknown>>();

/**
 * The function `generate` builds for `shape`, compiled and bound to the backend's heap once per shape,
 * or undefined where the loops cannot run (as wasmLoops) or it does not compile.
 */
function generatedLoop<T>(backend: WasmBackend, name: string, shape: object, generate: () => LoopFunction): T | undefined {
  if (!wasmLoops(backend)) return undefined;
  const api = (globalThis as { WebAssembly?: WebAssemblyApi }).WebAssembly as WebAssemblyApi;
  const memory = (backend as unknown as { wasm: { asm: { memory: object } } }).wasm.asm.memory;
  let byShape = generatedByMemory.get(memory);
  if (!byShape) generatedByMemory.set(memory, byShape = new Map());
  const key = `${name} ${JSON.stringify(shape)}`;
  if (!byShape.has(key)) {
    let run: unknown;
    try {
      run = (new api.Instance(new api.Module(assemble([generate()])), { env: { memory } }).exports as Record<string, unknown>)[name];
    } catch {
      run = undefined;
    }
    byShape.set(key, run);
  }
  return byShape.get(key) as T | undefined;
}

/**
 * The direct convolution generated for this shape (see directConvolutionFunction), compiled once per
 * shape and heap, or undefined where the loops cannot run (as wasmLoops).
 */
export function directConvolution(backend: WasmBackend, shape: DirectConvolutionShape): DirectConvolution | undefined {
  return generatedLoop<DirectConvolution>(backend, 'directConvolution', shape, () => directConvolutionFunction(shape, shape.outWidth >= 8 ? 2 : 1, CHANNELS_PER_PASS));
}

export type Col2imRows = (cols: number, dx: number, images: number) => void;

let rowsEnabled = true;

/** Turns the row-wise col2im off (or on again), so tests can hold it against col2imRuns bit for bit. */
export function setCol2imRowsEnabled(on: boolean): void {
  rowsEnabled = on;
}

/**
 * The row-wise col2im generated for this shape (see col2imRowsFunction), compiled once per shape and
 * heap; undefined where the loops cannot run or the shape does not fit it (input width not a multiple
 * of 4, more than 12 vectors across).
 */
export function col2imRows(backend: WasmBackend, shape: Col2imRowsShape): Col2imRows | undefined {
  const inWidth = shape.outWidth + shape.filterWidth - 1;
  if (!rowsEnabled || inWidth % 4 !== 0 || inWidth > 48) return undefined;
  return generatedLoop<Col2imRows>(backend, 'col2imRows', shape, () => col2imRowsFunction(shape));
}
