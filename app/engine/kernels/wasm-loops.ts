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
const I32_SUB = 0x6b;
const I32_MUL = 0x6c;
const I32_LT_S = 0x48;
const I32_SHR_U = 0x76;
const I32 = 0x7f;
const V128 = 0x7b;
// SIMD (prefix 0xfd), WebAssembly core spec 2.0 §5.4.8.
const V128_LOAD = 0x00;
const V128_STORE = 0x0b;
const F32X4_SPLAT = 0x13;
const F32X4_GT = 0x44;
const V128_AND = 0x4e;
const V128_ANDNOT = 0x4f;
const V128_BITSELECT = 0x52;
const F32X4_ADD = 0xe4;

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
      const module = new api.Module(assemble([maxPool2x2Backprop(), col2imRuns()]));
      loops = new api.Instance(module, { env: { memory } }).exports as WasmLoops;
    } catch {
      loops = undefined;
    }
    loopsByMemory.set(memory, loops);
  }
  return loopsByMemory.get(memory);
}
