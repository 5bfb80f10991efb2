/**
 * Importing an .onnx file from the Models screen: the graph says the input size, channels and number
 * of classes (models.inspectOnnx); what it cannot say (how pixels were scaled, channel order, class
 * names) is asked for, and becomes the foolprint.json uploaded beside model.onnx. Pure: the state
 * class (state/model-upload.svelte.ts) does the reading and the calls.
 */
import type { OnnxInspection } from '../../app/api/models.js';
import { modelManifestSchema } from '../../app/models/manifest.js';
import type { ModelManifest, Preprocessing } from '../../app/models/manifest.js';

/** The pixel scalings exporters train with, as the person recognises them. */
export const PIXEL_PRESETS = {
  unit: { label: '[0, 1]', preprocessing: { kind: 'unit' } },
  symmetric: { label: '[−1, 1]', preprocessing: { kind: 'symmetric' } },
  byte: { label: '[0, 255]', preprocessing: { kind: 'byte' } },
  // torchvision's transforms.Normalize for ImageNet models.
  imagenet: { label: 'ImageNet mean/std', preprocessing: { kind: 'meanStd', mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] } },
} as const satisfies Record<string, { label: string; preprocessing: Preprocessing }>;
export type PixelPreset = keyof typeof PIXEL_PRESETS;

export interface OnnxAnswers {
  name: string;
  preset: PixelPreset;
  bgr: boolean;
  /** Class names from a labels file, or null for the indices "0".."K−1". */
  labels: string[] | null;
}

/**
 * Class names from a labels file: a JSON array of strings, or one name per line (blank lines and a
 * trailing newline ignored). It must name every class the graph outputs.
 */
export function parseLabelsFile(text: string, classes: number, fileName: string): string[] {
  const trimmed = text.trim();
  let labels: string[];
  if (trimmed.startsWith('[')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch {
      throw new Error(`${fileName} starts like a JSON array but is not valid JSON`);
    }
    if (!Array.isArray(parsed) || !parsed.every((l) => typeof l === 'string')) throw new Error(`${fileName} is a JSON value but not an array of strings`);
    labels = parsed.map((l) => l.trim());
  } else {
    labels = trimmed.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '');
  }
  if (labels.length !== classes) throw new Error(`${fileName} names ${labels.length} classes, the model outputs ${classes}`);
  return labels;
}

/** The foolprint.json the answers make, checked by the same schema the host reads it with. */
export function onnxManifest(inspection: OnnxInspection, answers: OnnxAnswers): ModelManifest {
  if (inspection.channels === 1 && (answers.bgr || answers.preset === 'imagenet')) {
    throw new Error('a one-channel model has no channel order and no per-channel ImageNet mean/std');
  }
  return modelManifestSchema.parse({
    schemaVersion: 1,
    name: answers.name.trim() || 'ONNX model',
    inputSize: inspection.inputSize,
    channels: inspection.channels,
    outputs: inspection.outputs,
    preprocessing: PIXEL_PRESETS[answers.preset].preprocessing,
    channelOrder: answers.bgr ? 'BGR' : 'RGB',
    labels: answers.labels ?? Array.from({ length: inspection.classes }, (_, i) => String(i)),
  });
}
