import * as tf from '@tensorflow/tfjs';
import type { DataType, KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs';

/**
 * The few members of tfjs-backend-wasm's BackendWasm our kernels use. Typed structurally so pure
 * `app/` code needs no import of the WASM package: tensors live on the WASM heap, and a kernel may
 * read and write them in place through typed-array views of that heap.
 */
export interface WasmBackend {
  dataIdMap: { get(dataId: object): { id: number } | undefined; has(dataId: object): boolean };
  makeOutput(shape: number[], dtype: DataType): TensorInfo;
  /** A view of the tensor's bytes on the heap. Any later allocation may grow (and detach) the heap: take views after allocating. */
  typedArrayFromHeap(info: TensorInfo): Float32Array | Int32Array | Uint8Array;
  disposeData(dataId: object, force?: boolean): boolean;
}

export interface KernelArgs<A = NamedAttrMap> {
  // Kernels are only called with the inputs their op declares.
  inputs: Record<string, TensorInfo>;
  backend: WasmBackend;
  attrs: A;
}

/** Calls another kernel registered for 'wasm' (its setup has run when the backend initialised). */
export function runWasmKernel(kernelName: string, args: KernelArgs<NamedAttrMap>): TensorInfo {
  const config = tf.getKernel(kernelName, 'wasm');
  if (!config) throw new Error(`the WASM backend has no '${kernelName}' kernel`);
  return (config.kernelFunc as unknown as (a: KernelArgs<NamedAttrMap>) => TensorInfo)(args);
}

export function float32View(backend: WasmBackend, info: TensorInfo): Float32Array {
  const view = backend.typedArrayFromHeap(info);
  if (!(view instanceof Float32Array)) throw new Error(`expected a float32 tensor, got ${info.dtype}`);
  return view;
}

export function disposeAll(backend: WasmBackend, infos: (TensorInfo | undefined)[]): void {
  for (const info of infos) if (info) backend.disposeData(info.dataId);
}

export type WasmKernelFunc = (args: KernelArgs<any>) => TensorInfo;

export function asKernelFunc(fn: WasmKernelFunc): KernelFunc {
  return fn as unknown as KernelFunc;
}

/**
 * dy spread onto the stride grid: [N, (H−1)·sh+1, (W−1)·sw+1, C] with dy[n,y,x,c] at (y·sh, x·sw) and
 * zeros between. The input gradient of a strided convolution is a stride-1 convolution of this.
 * Returns dy itself (no copy) when both strides are 1.
 */
export function dilateByStride(backend: WasmBackend, dy: TensorInfo, strideHeight: number, strideWidth: number): TensorInfo {
  if (strideHeight === 1 && strideWidth === 1) return dy;
  const [n, h, w, c] = dy.shape;
  const dh = (h - 1) * strideHeight + 1;
  const dw = (w - 1) * strideWidth + 1;
  const out = backend.makeOutput([n, dh, dw, c], 'float32');
  const src = float32View(backend, dy);
  const dst = float32View(backend, out);
  dst.fill(0);
  let from = 0;
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        let to = ((b * dh + y * strideHeight) * dw + x * strideWidth) * c;
        for (let i = 0; i < c; i++) dst[to++] = src[from++];
      }
    }
  }
  return out;
}
