/**
 * Model manifests (foolprint.json) checked in full against manifest.ts's schema, without loading
 * TF.js; the built-in list without zod is builtin-models.ts'.
 */
import { readFileSync } from 'node:fs';
import { ModelError, notJsonReason } from '../models/errors.js';
import { describeManifestIssues, modelManifestSchema, type ModelManifest } from '../models/manifest.js';
import type { BuiltinModelInfo } from '../models/source.js';
import { builtinModelFolders, builtinModelInfo } from './builtin-models.js';

export { MANIFEST_FILE, builtinModelsDir } from './builtin-models.js';

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

/** Every built-in model, each manifest fully checked (builtin-models.ts lists them without zod). */
export function listBuiltinModels(dir?: string): BuiltinModelInfo[] {
  return builtinModelFolders(dir).map(({ id, folder, file }) => builtinModelInfo(id, folder, parseManifest(readFileSync(file, 'utf8'), file)));
}
