import { createRequire } from 'node:module';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type * as tfWasm from '@tensorflow/tfjs-backend-wasm';
import { registerFastWasmKernels } from '../engine/kernels/index.js';

/**
 * TF.js backend selection for Node hosts and workers (issue 2, "Compute engine").
 *
 * Order: native TensorFlow (`@tensorflow/tfjs-node`, an optionalDependency that cannot be installed
 * offline), then WASM with SIMD on one thread (multithreaded WASM cannot be enabled in Node: it needs
 * SharedArrayBuffer workers the Node build of the backend does not spawn), then the plain JS CPU backend.
 * `@tensorflow/tfjs` (not tfjs-core alone) is imported so every op's gradient is registered.
 */
export type BackendName = 'tensorflow' | 'wasm' | 'cpu';

export const BACKEND_NAMES: readonly BackendName[] = ['tensorflow', 'wasm', 'cpu'];

export interface BackendInfo {
  /** What tf.getBackend() says after initialisation: the truth, not what was asked for. */
  name: BackendName;
  /** WASM only: whether the SIMD binary is in use. */
  simd?: boolean;
  /** WASM only: threads of the WASM backend (always 1 in Node). */
  threads?: number;
  /** Human-readable account of what was tried and why it was or was not used. */
  notes: string[];
}

export class BackendError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BackendError';
  }
}

export function isBackendName(value: string): value is BackendName {
  return (BACKEND_NAMES as readonly string[]).includes(value);
}

/** The package's dist folder, where the .wasm binaries live (setWasmPaths wants a folder ending in '/'). */
function wasmBinaryFolder(): string {
  const require = createRequire(import.meta.url);
  return path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')) + path.sep + 'dist' + path.sep;
}

/** Variable specifier, so TypeScript does not require the optional package to be installed. */
const TFJS_NODE = '@tensorflow/tfjs-node';

async function tryTensorflow(notes: string[]): Promise<boolean> {
  // Resolved before import(): a bundled worker runs as a vm.Script (code-cache.ts), where Node 20 has
  // no import() without a flag, and it is started only where the package does not resolve.
  try {
    createRequire(import.meta.url).resolve(TFJS_NODE);
  } catch {
    notes.push('native TensorFlow (@tensorflow/tfjs-node) is not installed');
    return false;
  }
  try {
    await import(TFJS_NODE);
  } catch (error) {
    const code = (error as { code?: string }).code;
    notes.push(code === 'ERR_MODULE_NOT_FOUND'
      ? 'native TensorFlow (@tensorflow/tfjs-node) is not installed'
      : `native TensorFlow (@tensorflow/tfjs-node) failed to load: ${(error as Error).message.split('\n')[0]}`);
    return false;
  }
  const ok = await tf.setBackend('tensorflow').catch(() => false);
  if (!ok || tf.getBackend() !== 'tensorflow') {
    notes.push('native TensorFlow (@tensorflow/tfjs-node) loaded but its backend did not initialise');
    return false;
  }
  return true;
}

let wasmModule: typeof tfWasm | undefined;

async function tryWasm(notes: string[]): Promise<{ simd: boolean; threads: number } | undefined> {
  try {
    wasmModule ??= await import('@tensorflow/tfjs-backend-wasm');
    // Paths and thread count must be set before the backend first initialises; later calls throw.
    if (!tf.findBackend('wasm') || tf.getBackend() !== 'wasm') {
      try {
        wasmModule.setWasmPaths(wasmBinaryFolder());
        wasmModule.setThreadsCount(1);
      } catch {
        // Already initialised once in this process: the first settings stay in force.
      }
    }
  } catch (error) {
    notes.push(`WASM backend could not be loaded: ${(error as Error).message.split('\n')[0]}`);
    return undefined;
  }
  // setBackend resolves false (and stays on the previous backend) when the binary fails to load.
  const ok = await tf.setBackend('wasm').catch(() => false);
  if (!ok || tf.getBackend() !== 'wasm') {
    notes.push(`WASM backend failed to initialise (tf.getBackend() is '${tf.getBackend()}')`);
    return undefined;
  }
  const simd = tf.env().getBool('WASM_HAS_SIMD_SUPPORT') as boolean;
  const threads = wasmModule.getThreadsCount();
  const replaced = registerFastWasmKernels();
  if (replaced.length > 0) notes.push(`faster WASM kernels registered: ${replaced.join(', ')}`);
  if (!simd) notes.push('WASM SIMD is not available: the plain WASM binary is slower');
  return { simd, threads };
}

async function tryCpu(notes: string[]): Promise<boolean> {
  const ok = await tf.setBackend('cpu').catch(() => false);
  if (!ok || tf.getBackend() !== 'cpu') {
    notes.push('the CPU backend failed to initialise');
    return false;
  }
  return true;
}

/**
 * Initialise the fastest available backend, or the one forced by `prefer` or the environment
 * variable FOOLPRINT_BACKEND (tensorflow|wasm|cpu). A forced backend that is unavailable falls back
 * down the usual order, and the notes say so. The returned name is always what tf.getBackend() reports.
 */
export async function initBackend(options: { prefer?: BackendName } = {}): Promise<BackendInfo> {
  const notes: string[] = [];
  const fromEnv = process.env.FOOLPRINT_BACKEND?.trim().toLowerCase();
  let forced: BackendName | undefined = options.prefer;
  if (forced === undefined && fromEnv) {
    if (isBackendName(fromEnv)) {
      forced = fromEnv;
      notes.push(`FOOLPRINT_BACKEND=${fromEnv} forces the ${fromEnv} backend`);
    } else {
      notes.push(`FOOLPRINT_BACKEND='${fromEnv}' is not one of ${BACKEND_NAMES.join(', ')}: ignored`);
    }
  } else if (forced !== undefined && !isBackendName(forced)) {
    throw new BackendError(`unknown backend '${String(forced)}': use one of ${BACKEND_NAMES.join(', ')}`);
  }

  const order: BackendName[] = forced ? [forced, ...BACKEND_NAMES.filter((b) => b !== forced)] : [...BACKEND_NAMES];
  for (const candidate of order) {
    if (candidate === 'tensorflow' && (await tryTensorflow(notes))) return finish('tensorflow', forced, notes);
    if (candidate === 'wasm') {
      const wasm = await tryWasm(notes);
      if (wasm) return finish('wasm', forced, notes, wasm);
    }
    if (candidate === 'cpu' && (await tryCpu(notes))) return finish('cpu', forced, notes);
  }
  throw new BackendError(`no TF.js backend could be initialised: ${notes.join('; ')}`);
}

function finish(
  name: BackendName,
  forced: BackendName | undefined,
  notes: string[],
  wasm?: { simd: boolean; threads: number },
): BackendInfo {
  const actual = tf.getBackend();
  if (actual !== name) throw new BackendError(`backend '${name}' was selected but tf.getBackend() reports '${actual}'`);
  if (forced && forced !== name) notes.push(`the forced backend '${forced}' is unavailable: using '${name}' instead`);
  return wasm ? { name, simd: wasm.simd, threads: wasm.threads, notes } : { name, notes };
}
