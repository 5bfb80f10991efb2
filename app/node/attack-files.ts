/**
 * Writes an attack run as files: clean, adversarial and amplified-perturbation PNGs plus record.json
 * (app/experiments/attack-record.ts). The same layout `foolprint attack` writes (main/cli/commands/
 * attack.ts `saveAttack`), factored here so the service (app/node/service.ts) writes runs without
 * importing a CLI host; the CLI can call this one instead of its own copy.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { AttackResult, TopK } from '../attacks/types.js';
import type { Dataset } from '../data/dataset.js';
import { attackFileNames } from '../experiments/attack-record.js';
import type { AttackRecord } from '../experiments/attack-record.js';
import { writeFileAtomic, writeJsonAtomic } from './atomic-write.js';
import { amplifyPerturbation, encodePng } from './png-encode.js';
import type { AttackRejections } from '../eval/rejections.js';

export function topRow(top: TopK, i: number): { label: number; probability: number }[] {
  const row = [];
  for (let j = 0; j < Math.min(5, top.k); j++) row.push({ label: top.labels[i * top.k + j], probability: top.probs[i * top.k + j] });
  return row;
}

export async function writeAttackFiles(
  outDir: string,
  dataset: Pick<Dataset, 'images' | 'ids'>,
  result: AttackResult & { rejections?: AttackRejections },
  model: { id: string; inputShape: readonly [number, number, number]; labels: readonly string[] },
  datasetSpec: string,
  onImage?: (done: number, total: number) => void,
  signal?: AbortSignal,
): Promise<AttackRecord> {
  await mkdir(outDir, { recursive: true });
  const [count, height, width, channels] = result.shape;
  const size = height * width * channels;
  const image = (pixels: Float32Array, i: number) => pixels.subarray(i * size, (i + 1) * size);
  const png = (pixels: Float32Array) => encodePng(pixels, width, height, channels);
  const { targets: _targets, criterion: _criterion, ...options } = result.options as typeof result.options & { targets?: unknown };
  const record: AttackRecord = {
    schemaVersion: 1,
    createdAt: new Date().toISOString(),
    model: { id: model.id, inputShape: [...model.inputShape] as [number, number, number], labels: [...model.labels] },
    dataset: datasetSpec,
    method: result.method,
    options: { ...options, targeted: result.options.criterion?.kind === 'targeted' },
    epsilons: result.perEpsilon.map((e) => e.epsilon),
    images: [],
  };
  for (let i = 0; i < count; i++) {
    signal?.throwIfAborted();
    const clean = image(dataset.images, i);
    await writeFileAtomic(path.join(outDir, attackFileNames.clean(i)), await png(clean));
    const adversarial = [];
    const verdict = (flags: Uint8Array | undefined) => (flags ? { rejected: flags[i] === 1 } : {});
    for (const [index, e] of result.perEpsilon.entries()) {
      if (!e.adversarial || !e.perturbation) throw new Error('the attack result holds no images (keepImages was off)');
      await writeFileAtomic(path.join(outDir, attackFileNames.adversarial(e.epsilon, i)), await png(image(e.adversarial, i)));
      await writeFileAtomic(path.join(outDir, attackFileNames.perturbation(e.epsilon, i)), await png(amplifyPerturbation(image(e.perturbation, i), e.epsilon)));
      adversarial.push({
        epsilon: e.epsilon,
        file: attackFileNames.adversarial(e.epsilon, i),
        perturbationFile: attackFileNames.perturbation(e.epsilon, i),
        float: { top5: topRow(e.float.after, i), success: e.float.success[i] === 1, linf: e.float.linf[i], l2: e.float.l2[i], ...verdict(result.rejections?.perEpsilon[index].float) },
        quantized: { top5: topRow(e.quantized.after, i), success: e.quantized.success[i] === 1, linf: e.quantized.linf[i], l2: e.quantized.l2[i], ...verdict(result.rejections?.perEpsilon[index].quantized), ...(e.quantized.survival ? { survival: e.quantized.survival[i] } : {}) },
      });
    }
    record.images.push({
      index: i,
      id: dataset.ids[i] ?? String(i),
      label: result.labels[i],
      ...(result.targets ? { target: result.targets[i] } : {}),
      clean: { file: attackFileNames.clean(i), top5: topRow(result.before, i), ...verdict(result.rejections?.clean) },
      adversarial,
    });
    onImage?.(i + 1, count);
  }
  // record.json last: a run killed while writing PNGs has no record and is not listed as a run.
  await writeJsonAtomic(path.join(outDir, 'record.json'), record);
  return record;
}
