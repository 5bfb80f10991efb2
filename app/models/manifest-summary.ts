/**
 * What a model list shows of a foolprint.json (name, input, labels), read without zod: `foolprint
 * models` printed in ~0.35 s, ~0.13 s of it importing zod and building the manifest schema (issue 12,
 * start-up: within 0.3 s). Never more lenient than manifest.ts's schema on what it reads: where it
 * cannot vouch for a manifest it says undefined, and the caller runs the full check, which says why.
 * The fields it does not read (preprocessing, training, …) are checked where the model is loaded.
 */
import type { BuiltinModelInfo } from './source.js';

/** The keys of foolprint.json (manifest.ts's schema is strict; a test holds the two lists equal). */
export const MANIFEST_KEYS: readonly string[] = [
  'schemaVersion', 'name', 'description', 'format', 'inputSize', 'channels', 'preprocessing',
  'channelOrder', 'outputs', 'labels', 'epsilons', 'training',
];

export type ManifestSummary = Pick<BuiltinModelInfo, 'name' | 'description' | 'inputSize' | 'channels' | 'labels'>;

const positiveInt = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) > 0;

/** The listed fields of a parsed foolprint.json, or undefined where the full check must decide. */
export function manifestSummary(raw: unknown): ManifestSummary | undefined {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return undefined;
  const m = raw as Record<string, unknown>;
  if (!Object.keys(m).every((key) => MANIFEST_KEYS.includes(key))) return undefined;
  if (m.schemaVersion !== 1 || typeof m.name !== 'string' || m.name.length === 0) return undefined;
  if (m.description !== undefined && typeof m.description !== 'string') return undefined;
  const size = m.inputSize;
  if (!Array.isArray(size) || size.length !== 2 || !size.every(positiveInt)) return undefined;
  if (m.channels !== 1 && m.channels !== 3) return undefined;
  const labels = m.labels;
  if (!Array.isArray(labels) || labels.length < 2 || !labels.every((label) => typeof label === 'string')) return undefined;
  return {
    name: m.name,
    ...(m.description !== undefined ? { description: m.description } : {}),
    inputSize: [size[0], size[1]],
    channels: m.channels,
    labels: [...labels] as string[],
  };
}
