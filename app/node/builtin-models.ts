/**
 * The built-in models' folders (assets/models) and their listing for `foolprint models`, without zod:
 * each foolprint.json is read by manifestSummary, and only one it cannot vouch for goes through the
 * full check (model-manifests.ts, imported then), so a bad manifest is still refused in its words.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { manifestSummary, type ManifestSummary } from '../models/manifest-summary.js';
import { BUILTIN_MODEL_IDS, type BuiltinModelInfo } from '../models/source.js';
import { repoRoot } from './repo-root.js';

export const MANIFEST_FILE = 'foolprint.json';

export function builtinModelsDir(): string {
  return path.join(repoRoot(), 'assets', 'models');
}

/**
 * The folders of assets/models with a foolprint.json: the shipped models in BUILTIN_MODEL_IDS order
 * (its first, the digits' LeNet, is the default the UI starts with), then any other folder by name.
 */
export function builtinModelFolders(dir = builtinModelsDir()): { id: string; folder: string; file: string }[] {
  if (!existsSync(dir)) return [];
  const rank = (id: string) => (BUILTIN_MODEL_IDS.includes(id) ? BUILTIN_MODEL_IDS.indexOf(id) : BUILTIN_MODEL_IDS.length);
  return readdirSync(dir)
    .sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0))
    .map((id) => ({ id, folder: path.join(dir, id), file: path.join(dir, id, MANIFEST_FILE) }))
    .filter(({ folder, file }) => statSync(folder).isDirectory() && existsSync(file));
}

export function builtinModelInfo(id: string, folder: string, manifest: ManifestSummary): BuiltinModelInfo {
  return {
    id,
    name: manifest.name,
    ...(manifest.description ? { description: manifest.description } : {}),
    inputSize: [...manifest.inputSize] as [number, number],
    channels: manifest.channels,
    labels: [...manifest.labels],
    folder,
  };
}

/** The summary of a foolprint.json text, or undefined where it is not JSON or not one manifestSummary vouches for. */
export function readManifestSummary(text: string): ManifestSummary | undefined {
  try {
    return manifestSummary(JSON.parse(text));
  } catch {
    return undefined;
  }
}

/** listBuiltinModels (model-manifests.ts), the same list and the same errors, with zod loaded only for a manifest that needs it. */
export async function listBuiltinModelsQuickly(dir = builtinModelsDir()): Promise<BuiltinModelInfo[]> {
  const models: BuiltinModelInfo[] = [];
  for (const { id, folder, file } of builtinModelFolders(dir)) {
    const text = readFileSync(file, 'utf8');
    const manifest = readManifestSummary(text) ?? (await import('./model-manifests.js')).parseManifest(text, file);
    models.push(builtinModelInfo(id, folder, manifest));
  }
  return models;
}
