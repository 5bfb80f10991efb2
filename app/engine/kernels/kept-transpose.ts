import * as tf from '@tensorflow/tfjs';
import type { TensorInfo } from '@tensorflow/tfjs';
import { runWasmKernel } from './wasm-backend.js';
import type { WasmBackend } from './wasm-backend.js';

/**
 * Transposes of weights kept across calls. The backend caches the XNNPACK operator of an untransposed
 * product, with its weights packed, under the id of the weight operand's data; a transpose made per
 * call has a fresh id, so every such product packed its weights anew: the dense layers' dy·Wᵀ at
 * batch 1 took ~150 µs where the forward product takes ~25 µs. A kept copy holds the same numbers as
 * a fresh one, so sums and their order are unchanged; only variables (the model's weights, few and
 * long-lived) are kept: a transposed activation is new on every call and would only pile up.
 */

interface Kept {
  /**
   * The backend's record of the weight's data when it was transposed. The backend makes a new record
   * (with a new id) whenever data is written, even under a reused dataId, and deletes it when the data
   * is freed: while the dataId still maps to this very record, its bytes are the ones we transposed.
   */
  source: object;
  rows: number;
  columns: number;
  transposed: TensorInfo;
}

const kept = new WeakMap<WasmBackend, Map<object, Kept[]>>();

function isVariable(dataId: object): boolean {
  const variables = tf.engine().registeredVariables;
  for (const name in variables) if (variables[name].dataId === dataId) return true;
  return false;
}

/**
 * Frees the copies of weights freed or rewritten since (a handful: one or two per layer of the loaded
 * models), so a disposed model's copies go at the next call that transposes a weight.
 */
function dropStale(backend: WasmBackend, copies: Map<object, Kept[]>): void {
  for (const [dataId, list] of copies) {
    // `get` of a freed dataId would ask the engine to move the data in from another backend: `has` first.
    const current = backend.dataIdMap.has(dataId) ? backend.dataIdMap.get(dataId) : undefined;
    if (list[0].source === current) continue;
    for (const copy of list) backend.disposeData(copy.transposed.dataId);
    copies.delete(dataId);
  }
}

/**
 * x's data read as a [rows, columns] matrix, transposed to [columns, rows] and given `shape`.
 * `owned`: the caller disposes it (x is not a weight); otherwise it is kept for the next call and the
 * caller must leave it alone.
 */
export function transposeMatrix(
  backend: WasmBackend, x: TensorInfo, rows: number, columns: number, shape: number[],
): { transposed: TensorInfo; owned: boolean } {
  const fresh = () => runWasmKernel('Transpose', {
    inputs: { x: { dataId: x.dataId, shape: [rows, columns], dtype: 'float32' } }, backend, attrs: { perm: [1, 0] },
  });
  if (!isVariable(x.dataId)) return { transposed: { ...fresh(), shape }, owned: true };
  let copies = kept.get(backend);
  if (!copies) kept.set(backend, (copies = new Map()));
  dropStale(backend, copies);
  let list = copies.get(x.dataId);
  let copy = list?.find((c) => c.rows === rows && c.columns === columns);
  if (!copy) {
    const source = backend.dataIdMap.get(x.dataId);
    if (!source) throw new Error('a weight has no data on the WASM backend');
    copy = { source, rows, columns, transposed: fresh() };
    if (!list) copies.set(x.dataId, (list = []));
    list.push(copy);
  }
  return { transposed: { dataId: copy.transposed.dataId, shape, dtype: 'float32' }, owned: false };
}

/** How many transposed weights are kept (for tests that check they are freed with their weights). */
export function keptTransposeCount(backend: WasmBackend): number {
  const copies = kept.get(backend);
  if (!copies) return 0;
  dropStale(backend, copies);
  let count = 0;
  for (const list of copies.values()) count += list.length;
  return count;
}
