/**
 * Wraps a TF.js model and its manifest into the `Classifier` every attack sees. All preprocessing
 * happens inside `logits`, as differentiable ops, so gradients are taken w.r.t. images in [0,1]
 * pixel space whatever the model was trained on (Foolbox's `preprocessing` argument does the same).
 */
import * as tf from '@tensorflow/tfjs';
import type { Classifier } from '../engine/classifier.js';
import type { ModelManifest, Preprocessing } from './manifest.js';
import { ModelError } from './errors.js';
import { weightGradientsWanted } from '../engine/kernels/weight-gradients.js';
import { compileChain, offTape, onTape } from './layer-chain.js';

/** Rec. 601 luma weights, the usual RGB→grey conversion (what PIL's convert('L') uses). */
const LUMA = [0.299, 0.587, 0.114];
/** Added before the log of a probability output, so log(0) never yields −∞ (and NaN gradients). */
const LOG_EPSILON = 1e-12;

/**
 * A network that is not a TF.js model (an imported ONNX graph, app/models/onnx/): its declared NHWC
 * input shape, its output size when known, and a forward pass made of differentiable TF.js ops.
 */
export interface ImageNetwork {
  readonly inputShape: (number | null)[];
  readonly outputSize?: number;
  forward(images: tf.Tensor4D): tf.Tensor;
  dispose(): void;
}

type AnyModel = tf.LayersModel | tf.GraphModel | ImageNetwork;

function isLayersModel(model: AnyModel): model is tf.LayersModel {
  return model instanceof tf.LayersModel;
}

function isTfjsModel(model: AnyModel): model is tf.LayersModel | tf.GraphModel {
  return model instanceof tf.LayersModel || model instanceof tf.GraphModel;
}

/** The model's declared input shape, [batch, h, w, c]; unknown dims as null. */
function modelInputShape(model: AnyModel): (number | null)[] | undefined {
  if (!isTfjsModel(model)) return model.inputShape;
  const shape = isLayersModel(model) ? model.inputs[0]?.shape : model.inputs[0]?.shape;
  if (!shape) return undefined;
  return shape.map((d) => (d == null || d < 0 ? null : d));
}

function modelOutputSize(model: AnyModel): number | undefined {
  if (!isTfjsModel(model)) return model.outputSize;
  const shape = isLayersModel(model) ? model.outputs[0]?.shape : model.outputs[0]?.shape;
  const last = shape?.[shape.length - 1];
  return last == null || last < 0 ? undefined : last;
}

function showShape(shape: (number | null)[]): string {
  return `[${shape.map((d) => (d === null ? 'null' : d)).join(',')}]`;
}

/** x in [0,1] → what the model was trained on. */
export function applyPreprocessing(x: tf.Tensor4D, preprocessing: Preprocessing): tf.Tensor4D {
  switch (preprocessing.kind) {
    case 'unit':
      return x;
    case 'symmetric':
      return tf.sub(tf.mul(x, 2), 1);
    case 'byte':
      return tf.mul(x, 255);
    case 'meanStd': {
      const channels = x.shape[3];
      const perChannel = (values: number[], what: string) => {
        if (values.length === 1) return tf.scalar(values[0]);
        if (values.length !== channels) throw new ModelError(`manifest preprocessing.${what} has ${values.length} values, the model input has ${channels} channels`);
        return tf.tensor1d(values);
      };
      return tf.div(tf.sub(x, perChannel(preprocessing.mean, 'mean')), perChannel(preprocessing.std, 'std'));
    }
  }
}

/**
 * A `Classifier` over `model`. Checks now, not at the first attack: the model's input height/width
 * match the manifest's inputSize, and its output size matches the number of labels. A channel
 * count that differs (grey images for an RGB model, or the reverse) is bridged inside `logits`.
 */
export function classifierFromModel(model: AnyModel, manifest: ModelManifest, id: string): Classifier {
  const [height, width] = manifest.inputSize;
  const channels = manifest.channels;
  const declared = modelInputShape(model);
  let modelChannels: number = channels;
  if (declared) {
    if (declared.length !== 4) {
      throw new ModelError(`input shape mismatch: model takes ${showShape(declared)}, manifest says ${height}x${width}x${channels} (an image model takes [batch, height, width, channels])`);
    }
    const [, h, w, c] = declared;
    if ((h !== null && h !== height) || (w !== null && w !== width) || (c !== null && c !== 1 && c !== 3)) {
      throw new ModelError(`input shape mismatch: model takes ${showShape(declared)}, manifest says ${height}x${width}x${channels}`);
    }
    if (c !== null) modelChannels = c;
  }
  if (manifest.preprocessing.kind === 'meanStd') {
    for (const what of ['mean', 'std'] as const) {
      const n = manifest.preprocessing[what].length;
      if (n !== 1 && n !== modelChannels) throw new ModelError(`manifest preprocessing.${what} has ${n} values, the model input has ${modelChannels} channels`);
    }
  }

  /** Whether `prepare` returns the images as they are. */
  const unprepared = manifest.preprocessing.kind === 'unit' && channels === modelChannels && !(manifest.channelOrder === 'BGR' && modelChannels === 3);
  /** Images in [0,1] → the model's input: channel bridging, channel order, preprocessing. */
  const prepare = (images: tf.Tensor4D): tf.Tensor4D => {
    let x: tf.Tensor4D = images;
    if (channels === 1 && modelChannels === 3) x = tf.tile(x, [1, 1, 1, 3]);
    if (channels === 3 && modelChannels === 1) x = tf.sum(tf.mul(x, tf.tensor1d(LUMA)), -1, true);
    // The manifest's channelOrder is the model's: BGR models (Caffe-style) get the channels reversed.
    if (manifest.channelOrder === 'BGR' && modelChannels === 3) x = tf.reverse(x, -1);
    return applyPreprocessing(x, manifest.preprocessing);
  };
  /** The model's raw output → logits [N, classes]. */
  const finish = (raw: unknown): tf.Tensor2D => {
    const first = (Array.isArray(raw) ? raw[0] : raw instanceof tf.Tensor ? raw : Object.values(raw as tf.NamedTensorMap)[0]) as tf.Tensor;
    const out = first.reshape([first.shape[0], -1]) as tf.Tensor2D;
    return manifest.outputs === 'probabilities' ? tf.log(tf.add(out, LOG_EPSILON)) : out;
  };
  const chain = model instanceof tf.Sequential ? compileChain(model.layers.filter((layer) => layer.getClassName() !== 'InputLayer')) : undefined;
  const forward = (images: tf.Tensor4D): tf.Tensor2D => {
    const x = prepare(images);
    if (chain) {
      // Off a tape, and on one for an input gradient, the same bits as model.apply with fewer calls
      // (layer-chain.ts); weights being trained keep Layers' own ops and gradients.
      if (!onTape()) return finish(chain.untaped(x));
      if (!weightGradientsWanted()) return finish(chain.taped(x));
    }
    return finish(!isTfjsModel(model) ? model.forward(x) : isLayersModel(model) ? model.apply(x, { training: false }) : model.predict(x));
  };
  const checkShape = (images: tf.Tensor4D) => {
    const [, h, w, c] = images.shape;
    if (h !== height || w !== width || c !== channels) {
      throw new ModelError(`images are ${h}x${w}x${c}, model ${id} takes ${height}x${width}x${channels}`);
    }
  };

  let outputs = modelOutputSize(model);
  if (outputs === undefined) {
    // Graph models often leave the output shape unknown: one forward pass on a blank image tells.
    const probe = tf.tidy(() => forward(tf.zeros([1, height, width, channels])));
    outputs = probe.shape[1];
    probe.dispose();
  }
  if (outputs !== manifest.labels.length) {
    throw new ModelError(`labels count mismatch: the model has ${outputs} outputs, the manifest lists ${manifest.labels.length} labels`);
  }

  const inputShape = [height, width, channels] as const;
  const labels = [...manifest.labels];
  const logits = (images: tf.Tensor4D): tf.Tensor2D => {
    checkShape(images);
    return tf.tidy(() => forward(images));
  };
  return {
    id,
    inputShape,
    numClasses: labels.length,
    labels,
    logits,
    ...(chain && {
      logitsBesideTape: {
        of: logits,
        run(images: tf.Tensor4D): { logits: tf.Tensor2D; untaped: tf.Tensor2D } {
          checkShape(images);
          return tf.tidy(() => {
            const { taped, untaped } = chain.besideTape(prepare(images));
            return { logits: finish(taped), untaped: offTape(() => finish(untaped)) };
          });
        },
        ...(chain.inputGradient && unprepared && manifest.outputs === 'logits' && {
          gradient(images: tf.Tensor4D, logitGradient: (logits: tf.Tensor2D) => tf.Tensor2D, withUntaped: boolean): { gradient: tf.Tensor4D; untaped?: tf.Tensor2D } {
            checkShape(images);
            return tf.tidy(() => {
              // finish() only reshapes logits to [N, classes]: its gradient reshapes back.
              const { gradient, untaped } = chain.inputGradient!(images, (output) => tf.reshape(logitGradient(finish(output)), output.shape), withUntaped);
              return { gradient: gradient as tf.Tensor4D, ...(untaped && { untaped: finish(untaped) }) };
            });
          },
        }),
      },
    }),
    dispose(): void {
      model.dispose();
    },
  };
}
