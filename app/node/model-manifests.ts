/**
 * The built-in models' manifests (foolprint.json), read without loading TF.js: \`foolprint models\`
 * lists them in a fraction of the time the model loader's import takes.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { ModelError, notJsonReason } from '../models/errors.js';
import { describeManifestIssues, modelManifestSchema, type ModelManifest } from '../models/manifest.js';
import { BUILTIN_MODEL_IDS, type BuiltinModelInfo } from '../models/source.js';
import { repoRoot } from './repo-root.js';

export const MANIFEST_FILE = 'foolprint.json';

export function builtinModelsDir(): string {
  return path.join(repoRoot(), 'assets', 'models');
}

/** Parses and validates a foolprint.json text; errors name the file and the bad field. */
export function parseManifest(text: string, file: string): ModelManifest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new ModelError(`${file} is not JSON: ${notJsonReason(text, error)}`);
  }
  const parsed = modelManifestSchema.safeParse(raw);
  if (!parsed.success) throw new ModelError(`${file}: ${describeManifestIssues(parsed.error, raw)}`);
  return parsed.data;
}

export function listBuiltinModels(): BuiltinModelInfo[] {
  const dir = builtinModelsDir();
  if (!existsSync(dir)) return [];
  const models: BuiltinModelInfo[] = [];
  // The shipped models in BUILTIN_MODEL_IDS order (its first, the digits' LeNet, is the default the
  // UI starts with), then any other folder by name.
  const rank = (id: string) => (BUILTIN_MODEL_IDS.includes(id) ? BUILTIN_MODEL_IDS.indexOf(id) : BUILTIN_MODEL_IDS.length);
  for (const id of readdirSync(dir).sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0))) {
    const folder = path.join(dir, id);
    const file = path.join(folder, MANIFEST_FILE);
    if (!statSync(folder).isDirectory() || !existsSync(file)) continue;
    const manifest = parseManifest(readFileSync(file, 'utf8'), file);
    models.push({
      id,
      name: manifest.name,
      ...(manifest.description ? { description: manifest.description } : {}),
      inputSize: [...manifest.inputSize] as [number, number],
      channels: manifest.channels,
      labels: [...manifest.labels],
      folder,
    });
  }
  return models;
}
