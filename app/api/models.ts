import { z } from 'zod';
import { base64Schema, idSchema, imageSelectionSchema, noInputSchema } from './common.js';
import { trainingRecordSchema } from '../models/training-record.js';

/** A model the service can use: built-in, or a TF.js folder imported from disk. */
export const modelInfoSchema = z.object({
  /** Built-in id (e.g. "lenet-mnist") or the id given to an imported folder. */
  id: z.string().min(1),
  name: z.string(),
  description: z.string().optional(),
  source: z.enum(['builtin', 'imported']),
  /** Folder on the host holding model.json + foolprint.json. */
  folder: z.string(),
  /** [height, width, channels] of the images the model takes. */
  inputShape: z.tuple([z.number().int().positive(), z.number().int().positive(), z.number().int().positive()]),
  labels: z.array(z.string()),
  /** The ε list ([0,1] units) the Attack screen starts with: the manifest's, else one by input kind (app/models/manifest.ts suggestedEpsilons). */
  suggestedEpsilons: z.array(z.number().min(0).max(1)).optional(),
  /** The TF.js backend of the model's compute pool, once it has been opened (e.g. "wasm"). */
  backend: z.string().nullable(),
  /** How the model was trained, when its manifest says (defended models: method, ε, T, accuracies). */
  training: trainingRecordSchema.optional(),
  /**
   * A protected model: the model `baseModelId` behind the SafetyNet detector stored in the workspace
   * (detectors/<detectorId>/detector.json). It classifies as its base does and refuses what the detector
   * flags; reports count the refusals apart.
   */
  protection: z
    .object({ detectorId: z.string(), baseModelId: z.string(), attack: z.string(), epsilon: z.number(), falsePositiveRate: z.number(), threshold: z.number() })
    .optional(),
});
export type ModelInfo = z.infer<typeof modelInfoSchema>;

/** Clean accuracy of a model on a dataset (the evaluate job's result). */
export const evaluationSchema = z.object({
  modelId: z.string(),
  count: z.number().int().nonnegative(),
  top1: z.number().min(0).max(1),
  top5: z.number().min(0).max(1),
  notes: z.array(z.string()),
});
export type Evaluation = z.infer<typeof evaluationSchema>;

/** Most files one model upload may carry (model.json, foolprint.json and the weight shards). */
export const MAX_MODEL_UPLOAD_FILES = 200;
/**
 * Most bytes one model upload may carry, decoded. As base64 (4/3 larger) it stays under browser
 * mode's 64 MiB request body limit; larger models are imported by path (models.import).
 */
export const MAX_MODEL_UPLOAD_BYTES = 40 * 1024 * 1024;

/** Bytes a base64 string decodes to (padding excluded). */
export function base64DecodedBytes(base64: string): number {
  const padding = base64.endsWith('==') ? 2 : base64.endsWith('=') ? 1 : 0;
  return Math.floor((base64.length * 3) / 4) - padding;
}

/**
 * A path inside the uploaded model folder, "/"-separated: "model.json", "group1-shard1of1.bin",
 * "weights/shard1.bin". Never absolute, never "..", ".", empty or Windows-style: the host writes the
 * file under its own folder and nowhere else.
 */
export const modelFilePathSchema = z
  .string()
  .min(1)
  .max(512)
  .refine((p) => !p.startsWith('/') && !/^[A-Za-z]:/.test(p), 'must be a relative path inside the model folder, not an absolute one')
  .refine((p) => !p.includes('\\'), 'must use "/" between folders, not "\\"')
  .refine((p) => p.split('/').every((part) => part !== '' && part !== '.' && part !== '..'), 'must not contain "..", "." or empty parts: every file stays inside the model folder')
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  .refine((p) => !/[\u0000-\u001f]/.test(p), 'must not contain control characters');

export const modelUploadFileSchema = z.object({ path: modelFilePathSchema, base64: base64Schema });

export type ModelUploadFile = z.infer<typeof modelUploadFileSchema>;

/**
 * A file beside model.onnx: a plain name ("model.onnx.data", "weights.bin"), as ONNX's external data
 * locations are written and as the host stores them, one folder, no subfolders.
 */
export const onnxFileNameSchema = z
  .string()
  .min(1)
  .max(255)
  .refine((name) => !/[/\\]/.test(name), 'must be a file name beside model.onnx, without "/" or "\\"')
  .refine((name) => name !== '.' && name !== '..', 'must be a file name, not "." or ".."')
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  .refine((name) => !/[\u0000-\u001f]/.test(name), 'must not contain control characters');

export const modelUploadSchema = z
  .object({
    /** Shown name and the id's source when no id is given (e.g. the dropped folder's name). */
    name: z.string().min(1).max(128).optional(),
    id: idSchema.optional(),
    files: z.array(modelUploadFileSchema).min(1, 'no files: choose the folder holding model.json').max(MAX_MODEL_UPLOAD_FILES, `more than ${MAX_MODEL_UPLOAD_FILES} files: choose only the model's folder (model.json, weight shards, foolprint.json)`),
  })
  .superRefine(({ files }, context) => {
    const seen = new Set<string>();
    for (const [index, file] of files.entries()) {
      if (seen.has(file.path)) context.addIssue({ code: 'custom', path: ['files', index, 'path'], message: `"${file.path}" is uploaded twice` });
      seen.add(file.path);
    }
    // An ONNX model's files sit beside it: its external data locations are plain names.
    if (seen.has('model.onnx') && !seen.has('model.json')) {
      for (const [index, file] of files.entries()) {
        if (file.path.includes('/')) context.addIssue({ code: 'custom', path: ['files', index, 'path'], message: `"${file.path}": the files of an ONNX model sit beside model.onnx, not in subfolders` });
      }
    }
    if (!seen.has('model.json') && !seen.has('model.onnx')) {
      context.addIssue({ code: 'custom', path: ['files'], message: 'no model.json (or model.onnx) at the top of the upload: choose the folder that holds model.json and its weight shards, or an .onnx file' });
    }
    const bytes = files.reduce((sum, file) => sum + base64DecodedBytes(file.base64), 0);
    if (bytes > MAX_MODEL_UPLOAD_BYTES) {
      const mib = (n: number) => (n / 1024 / 1024).toFixed(1);
      context.addIssue({ code: 'custom', path: ['files'], message: `${mib(bytes)} MiB is more than the ${mib(MAX_MODEL_UPLOAD_BYTES)} MiB an upload may carry: import a model this large by its folder path` });
    }
  });
export type ModelUpload = z.input<typeof modelUploadSchema>;

/** An .onnx file to look at before importing it (what the graph says; the person fills in the rest). */
export const onnxInspectSchema = z
  .object({
    /** The file's name as chosen, for messages ("resnet18.onnx"). */
    name: z.string().min(1).max(256),
    base64: base64Schema,
    /** The external data files the graph names, under the names it gives them. */
    externalData: z.array(z.object({ path: onnxFileNameSchema, base64: base64Schema })).max(MAX_MODEL_UPLOAD_FILES).optional(),
  })
  .superRefine(({ base64, externalData = [] }, context) => {
    const names = new Set<string>();
    for (const [index, file] of externalData.entries()) {
      if (names.has(file.path)) context.addIssue({ code: 'custom', path: ['externalData', index, 'path'], message: `"${file.path}" is given twice` });
      names.add(file.path);
    }
    const bytes = externalData.reduce((sum, file) => sum + base64DecodedBytes(file.base64), base64DecodedBytes(base64));
    if (bytes > MAX_MODEL_UPLOAD_BYTES) {
      context.addIssue({ code: 'custom', path: ['base64'], message: `more than the ${MAX_MODEL_UPLOAD_BYTES / 1024 / 1024} MiB an upload may carry: import a model this large by its folder path` });
    }
  });

/** What the loader reads from an ONNX graph by itself: shown before import, the rest is asked for. */
export const onnxInspectionSchema = z.object({
  /** [height, width] of the input and its channels, from the graph's input shape. */
  inputSize: z.tuple([z.number().int().positive(), z.number().int().positive()]),
  channels: z.union([z.literal(1), z.literal(3)]),
  /** Number of outputs per image (classes). */
  classes: z.number().int().positive(),
  /** 'probabilities' when the graph ends in Softmax. */
  outputs: z.enum(['logits', 'probabilities']),
  /** What the loader assumed, in its words (opset, producer, ...). */
  notes: z.array(z.string()),
});
export type OnnxInspection = z.infer<typeof onnxInspectionSchema>;

export const modelsMethods = {
  'models.list': { input: noInputSchema, output: z.array(modelInfoSchema) },
  /** Import a folder with model.json + foolprint.json (checked by loading it once); returns its info. */
  'models.import': { input: z.object({ path: z.string().min(1), id: idSchema.optional() }), output: modelInfoSchema },
  /**
   * Upload a model folder's files (drag and drop, "Choose folder…" in the renderer): the host stores
   * them in <workspace>/models/<id>/, loads the model once as models.import does, and returns its info.
   * A model that does not load leaves nothing behind.
   */
  'models.upload': { input: modelUploadSchema, output: modelInfoSchema },
  /**
   * Read an .onnx file's graph (every operator checked, one forward pass) without importing it: its
   * input size, channels and classes, for the Models screen to show before asking for what the graph
   * cannot say (preprocessing, channel order, labels). The import is then models.upload with
   * model.onnx and the foolprint.json made from the answers.
   */
  'models.inspectOnnx': { input: onnxInspectSchema, output: onnxInspectionSchema },
  /** Job: clean top-1/top-5 accuracy on a dataset → Evaluation. */
  'models.evaluate': { input: z.object({ modelId: z.string().min(1), images: imageSelectionSchema }), output: z.object({ jobId: idSchema }) },
} as const;
