/**
 * The detector's RBF-SVM: libsvm (Chang & Lin) compiled to asm.js by the libsvm-js package. The
 * asm.js build rather than the WASM one: it needs no .wasm file fetched at start-up (which Node's
 * fetch cannot do from a path) and runs the same code. Probability outputs (Platt scaling) give
 * the continuous score a ROC curve needs.
 */
import { createRequire } from 'node:module';
import type { SvmTrainer, TrainedSvm } from '../defenses/safetynet.js';

interface LibsvmModel {
  train(samples: number[][], labels: number[]): void;
  predictOneProbability(sample: number[]): { prediction: number; estimates: { label: number; probability: number }[] };
  serializeModel(): string;
  free(): void;
}
interface LibsvmClass {
  new (options: Record<string, unknown>): LibsvmModel;
  load(serialized: string): LibsvmModel;
  SVM_TYPES: { C_SVC: string };
  KERNEL_TYPES: { RBF: string };
}

let loaded: Promise<LibsvmClass> | undefined;
/** libsvm-js is CommonJS and resolves to a promise of its class once the asm.js module has started. */
export function loadLibsvm(): Promise<LibsvmClass> {
  return (loaded ??= Promise.resolve(createRequire(import.meta.url)('libsvm-js/asm') as LibsvmClass | Promise<LibsvmClass>));
}

function wrap(model: LibsvmModel): TrainedSvm {
  return {
    scores(features) {
      const out = new Float64Array(features.length);
      features.forEach((f, i) => {
        const { estimates } = model.predictOneProbability(f);
        out[i] = estimates.find((e) => e.label === 1)?.probability ?? 0;
      });
      return out;
    },
    serialize: () => model.serializeModel(),
    dispose: () => model.free(),
  };
}

export async function libsvmTrainer(): Promise<SvmTrainer> {
  const SVM = await loadLibsvm();
  return {
    train(features, labels, { gamma, cost }) {
      const model = new SVM({ type: SVM.SVM_TYPES.C_SVC, kernel: SVM.KERNEL_TYPES.RBF, gamma, cost, probabilityEstimates: true, quiet: true });
      model.train(features, labels);
      return wrap(model);
    },
  };
}

/** A detector's SVM back from its libsvm text (detector.json's `svm`). */
export async function loadSvm(serialized: string): Promise<TrainedSvm> {
  return wrap((await loadLibsvm()).load(serialized));
}
