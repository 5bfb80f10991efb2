/**
 * Where a model comes from: one of the models shipped under assets/models, or a folder on disk.
 * Pure, so the renderer and the CLI parse `--model` the same way.
 */
export type ModelSource = { kind: 'builtin'; id: string } | { kind: 'folder'; path: string };

/** Ids of the models shipped in assets/models (each a folder with model.json + foolprint.json). */
export const BUILTIN_MODEL_IDS: readonly string[] = ['lenet-mnist', 'cnn-fashion-mnist', 'lenet-mnist-adv', 'lenet-mnist-x2-adv', 'lenet-mnist-distilled', 'mlp-mnist'];

const BUILTIN_PREFIX = 'builtin:';

/**
 * 'lenet-mnist' or 'builtin:lenet-mnist' → the built-in model; anything else is a folder path.
 * 'builtin:<unknown>' stays a builtin source, so the loader can say which ids exist.
 */
export function parseModelSource(s: string, builtinIds: readonly string[] = BUILTIN_MODEL_IDS): ModelSource {
  const text = s.trim();
  if (text.startsWith(BUILTIN_PREFIX)) return { kind: 'builtin', id: text.slice(BUILTIN_PREFIX.length) };
  if (builtinIds.includes(text)) return { kind: 'builtin', id: text };
  return { kind: 'folder', path: text };
}

/** What `foolprint models` lists about a shipped model. */
export interface BuiltinModelInfo {
  id: string;
  name: string;
  description?: string;
  /** [height, width] */
  inputSize: [number, number];
  channels: 1 | 3;
  labels: string[];
  /** Absolute folder holding model.json + foolprint.json. */
  folder: string;
}
