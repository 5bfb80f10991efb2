/**
 * Storing what a training run produces: the model folder (model.json, weights.bin, foolprint.json
 * with its `training` record) and the per-epoch checkpoint a killed run resumes from. Both are
 * written atomically: a folder is filled under a temporary name and renamed into place, a
 * checkpoint is one file written by writeFileAtomic.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import * as tf from '@tensorflow/tfjs';
import type { NamedValues, TrainingCheckpoint } from '../defenses/training.js';
import type { ModelManifest } from '../models/manifest.js';
import { modelManifestSchema } from '../models/manifest.js';
import { writeFileAtomic } from './atomic-write.js';
import { MANIFEST_FILE } from './model-loader.js';
import { fileSystemLoadHandler, saveLayersModel } from './model-io.js';

/**
 * Saves `model` with `manifest` as `folder`, replacing a folder of that name only when `replace`;
 * readers see the old folder or the new one, never a half-written one.
 */
export async function saveTrainedModel(model: tf.LayersModel, manifest: ModelManifest, folder: string, options: { replace?: boolean; extraFiles?: Record<string, string> } = {}): Promise<void> {
  const checked = modelManifestSchema.parse(manifest);
  if (existsSync(folder) && !options.replace) throw new Error(`a model folder ${folder} already exists: choose another name`);
  await mkdir(path.dirname(folder), { recursive: true });
  const temp = path.join(path.dirname(folder), `.${path.basename(folder)}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await mkdir(temp);
    await saveLayersModel(model, temp);
    await writeFile(path.join(temp, MANIFEST_FILE), JSON.stringify(checked, null, 2) + '\n');
    for (const [name, text] of Object.entries(options.extraFiles ?? {})) await writeFile(path.join(temp, name), text);
    if (existsSync(folder)) {
      const old = `${temp}.old`;
      await rename(folder, old);
      await rename(temp, folder);
      await rm(old, { recursive: true, force: true });
    } else {
      await rename(temp, folder);
    }
  } catch (error) {
    await rm(temp, { recursive: true, force: true });
    throw error;
  }
}

/**
 * Copies the trainable weights of the model saved in `folder` into `model`, to continue training a
 * shipped or earlier model (train-defended --init). Both must be the same architecture: a different
 * weight count or shape is refused with a line that names it, and `model` is left untouched.
 */
export async function loadInitialWeights(model: tf.LayersModel, folder: string): Promise<void> {
  const saved = await tf.loadLayersModel(fileSystemLoadHandler(folder));
  try {
    const from = saved.trainableWeights;
    const to = model.trainableWeights;
    if (from.length !== to.length) throw new Error(`${folder} has ${from.length} trainable weights, this network ${to.length}: it is another architecture`);
    to.forEach((w, i) => {
      if (from[i].shape.join('x') !== w.shape.join('x')) throw new Error(`${folder}'s weight ${from[i].originalName} is ${from[i].shape.join('x')}, this network's ${w.originalName} ${w.shape.join('x')}: it is another architecture or width`);
    });
    to.forEach((w, i) => w.write(from[i].read()));
  } finally {
    saved.dispose();
  }
}

const MAGIC = 'FPCK1';

/**
 * One file: MAGIC, a 4-byte little-endian header length, the JSON header (history, tensor names and
 * shapes, `key` naming the run's settings), then every tensor's float32 values in header order.
 */
export function encodeCheckpoint(checkpoint: TrainingCheckpoint, key: string): Uint8Array {
  const groups = { weights: checkpoint.weights, optimizer: checkpoint.optimizer, teacher: checkpoint.teacher ?? [] };
  const describe = (list: NamedValues[]) => list.map((v) => ({ name: v.name, shape: v.shape }));
  const header = Buffer.from(JSON.stringify({
    key,
    phaseIndex: checkpoint.phaseIndex,
    epochsDone: checkpoint.epochsDone,
    history: checkpoint.history,
    hasTeacher: checkpoint.teacher !== undefined,
    weights: describe(groups.weights),
    optimizer: describe(groups.optimizer),
    teacher: describe(groups.teacher),
  }));
  const values = [...groups.weights, ...groups.optimizer, ...groups.teacher].reduce((a, v) => a + v.values.length, 0);
  const out = Buffer.alloc(MAGIC.length + 4 + header.length + values * 4);
  out.write(MAGIC, 0, 'latin1');
  out.writeUInt32LE(header.length, MAGIC.length);
  header.copy(out, MAGIC.length + 4);
  let at = MAGIC.length + 4 + header.length;
  for (const v of [...groups.weights, ...groups.optimizer, ...groups.teacher]) {
    for (let i = 0; i < v.values.length; i++, at += 4) out.writeFloatLE(v.values[i], at);
  }
  return out;
}

export function decodeCheckpoint(bytes: Uint8Array, file: string): { checkpoint: TrainingCheckpoint; key: string } {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const bad = (why: string) => new Error(`${file} is not a usable training checkpoint: ${why}`);
  if (buffer.length < MAGIC.length + 4 || buffer.toString('latin1', 0, MAGIC.length) !== MAGIC) throw bad('it does not start with a checkpoint header');
  const headerLength = buffer.readUInt32LE(MAGIC.length);
  if (MAGIC.length + 4 + headerLength > buffer.length) throw bad('it is cut short');
  type Shapes = { name: string; shape: number[] }[];
  let header: { key: string; phaseIndex: number; epochsDone: number; history: TrainingCheckpoint['history']; hasTeacher: boolean; weights: Shapes; optimizer: Shapes; teacher: Shapes };
  try {
    header = JSON.parse(buffer.toString('utf8', MAGIC.length + 4, MAGIC.length + 4 + headerLength)) as typeof header;
  } catch {
    throw bad('its header is not JSON');
  }
  const shapesOk = (list: unknown) => Array.isArray(list) && list.every((v: { name?: unknown; shape?: unknown }) => typeof v?.name === 'string' && Array.isArray(v.shape) && v.shape.every((d) => Number.isInteger(d) && d >= 0));
  if (typeof header !== 'object' || header === null || !shapesOk(header.weights) || !shapesOk(header.optimizer) || !shapesOk(header.teacher) || !Array.isArray(header.history) || !Number.isInteger(header.phaseIndex) || !Number.isInteger(header.epochsDone)) {
    throw bad('its header lacks the tensors, history or epoch');
  }
  let at = MAGIC.length + 4 + headerLength;
  const read = (shapes: Shapes): NamedValues[] =>
    shapes.map(({ name, shape }) => {
      const count = shape.reduce((a, b) => a * b, 1);
      if (at + count * 4 > buffer.length) throw bad('it is cut short');
      const values = new Float32Array(count);
      for (let i = 0; i < count; i++, at += 4) values[i] = buffer.readFloatLE(at);
      return { name, shape, values };
    });
  const weights = read(header.weights);
  const optimizer = read(header.optimizer);
  const teacher = read(header.teacher);
  if (at !== buffer.length) throw bad(`${buffer.length - at} bytes follow the last tensor`);
  return {
    key: header.key,
    checkpoint: { phaseIndex: header.phaseIndex, epochsDone: header.epochsDone, history: header.history, weights, optimizer, ...(header.hasTeacher ? { teacher } : {}) },
  };
}

export async function writeCheckpoint(file: string, checkpoint: TrainingCheckpoint, key: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFileAtomic(file, encodeCheckpoint(checkpoint, key));
}

/** The checkpoint in `file` if there is one for the run named `key`; a checkpoint of other settings is an error. */
export async function readCheckpoint(file: string, key: string): Promise<TrainingCheckpoint | undefined> {
  if (!existsSync(file)) return undefined;
  const { checkpoint, key: stored } = decodeCheckpoint(await readFile(file), file);
  if (stored !== key) throw new Error(`${file} belongs to a run with other settings: delete it to start afresh, or run with the same settings to resume`);
  return checkpoint;
}
