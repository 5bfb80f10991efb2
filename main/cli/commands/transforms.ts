/**
 * `foolprint transforms`: Kurakin, Goodfellow & Bengio (2016), Sec. 4 and appendix, the artificial
 * image transformations: attack images with FGSM / basic iterative / least-likely class at a few ε,
 * apply one transformation at a time (brightness, contrast, Gaussian blur, Gaussian noise, JPEG, plus
 * rotation and scale) at several strengths to the 8-bit adversarial images, and report the destruction
 * rate (their Eq. 1) per method, ε, transformation and strength. The paper found the fast method's
 * examples the most robust (lowest destruction), the iterative ones the most fragile.
 */
import type { Command } from 'commander';
import type { AttackMethod } from '../../../app/attacks/types.js';
import { destructionRate, inPrefilteredCase, topKToLists } from '../../../app/physical/metrics.js';
import type { DestructionRate, DestructionSample } from '../../../app/physical/metrics.js';
import { TRANSFORMS, TRANSFORM_STRENGTHS, transformImages } from '../../../app/physical/simulate.js';
import type { TransformName } from '../../../app/physical/simulate.js';
import { UsageError, guarded, interruptSignal, parseEpsilonList } from '../failure.js';
import { createProgressBar } from '../progress.js';
import { addDataOptions, addModelOptions, formatTable, openDataset, openPool } from '../workbench.js';
import type { WorkbenchOptions } from '../workbench.js';

interface TransformsCommandOptions extends WorkbenchOptions {
  methods: string;
  epsilons: string;
  transforms: string;
  seed: string;
}

const METHODS: readonly AttackMethod[] = ['fgsm', 'bim', 'll'];

export interface TransformRow {
  method: AttackMethod;
  epsilon: number;
  transform: TransformName;
  strength: number;
  average: { top1: DestructionRate; top5: DestructionRate };
  prefiltered: { top1: DestructionRate; count: number };
}

const percent = (value: number | null): string => (value === null ? '–' : `${(100 * value).toFixed(1)}%`);

export function registerTransforms(program: Command): void {
  const command = program
    .command('transforms')
    .description("Kurakin et al.'s artificial-transformation experiment: destruction rate per transformation and strength")
    .option('--methods <list>', `attacks, from ${METHODS.join(', ')}`, 'fgsm,bim,ll')
    .option('--epsilons <list>', 'ε values in [0,1] (or 16/255 style)', '0.1,0.2')
    .option('--transforms <list>', `transformations, from ${TRANSFORMS.join(', ')}`, 'brightness,contrast,blur,noise,jpeg')
    .option('--seed <n>', 'seed of the noise transformation', '0')
    .option('--json', 'print JSON');
  addModelOptions(command);
  addDataOptions(command);
  command.action(guarded(async (options: TransformsCommandOptions) => {
    // First, before anything is printed (see interruptSignal).
    const signal = interruptSignal();
    const methods = options.methods.split(',').map((m) => m.trim().toLowerCase()).filter(Boolean);
    const badMethod = methods.find((m) => !(METHODS as readonly string[]).includes(m));
    if (badMethod !== undefined || methods.length === 0) throw new UsageError(`--methods must list some of ${METHODS.join(', ')}, got "${options.methods}"`);
    const transforms = options.transforms.split(',').map((t) => t.trim().toLowerCase()).filter(Boolean);
    const badTransform = transforms.find((t) => !(TRANSFORMS as readonly string[]).includes(t));
    if (badTransform !== undefined || transforms.length === 0) throw new UsageError(`--transforms must list some of ${TRANSFORMS.join(', ')}, got "${options.transforms}"`);
    const epsilons = parseEpsilonList(options.epsilons, '--epsilons');
    const seed = Number(options.seed);
    if (!Number.isInteger(seed)) throw new UsageError(`--seed must be a whole number, got "${options.seed}"`);

    const pool = await openPool(options);
    const bar = createProgressBar({ json: options.json });
    const rows: TransformRow[] = [];
    try {
      const dataset = await openDataset(options, pool);
      const shape = [dataset.count, dataset.height, dataset.width, dataset.channels] as const;
      const k = Math.min(5, pool.info().model.numClasses);
      const steps = methods.length * (1 + epsilons.length * transforms.reduce((n, t) => n + TRANSFORM_STRENGTHS[t as TransformName].sweep.length, 0));
      let done = 0;
      for (const method of methods as AttackMethod[]) {
        bar.update(done, steps, `${method} attack`);
        const attack = await pool.attack(dataset.images, dataset.labels, { method, epsilons, keepImages: true, topK: k }, { signal });
        done++;
        const clean = topKToLists(attack.before);
        for (const perEpsilon of attack.perEpsilon) {
          // Printed and photographed examples are 8-bit: transform the quantized image, compare with its prediction.
          const adversarialImages = Float32Array.from(perEpsilon.adversarial!, (v) => Math.round(v * 255) / 255);
          const adversarial = topKToLists(perEpsilon.quantized.after);
          for (const transform of transforms as TransformName[]) {
            for (const strength of TRANSFORM_STRENGTHS[transform].sweep) {
              bar.update(done, steps, `${method} ε=${perEpsilon.epsilon.toFixed(3)} ${transform} ${strength}`);
              const transformed = transformImages(adversarialImages, shape, transform, strength, seed);
              const after = topKToLists(await pool.predict(transformed, k, { signal }));
              done++;
              const samples: DestructionSample[] = after.map((transformedAdversarial, i) => ({ trueLabel: dataset.labels[i], clean: clean[i], adversarial: adversarial[i], transformedAdversarial }));
              const prefiltered = samples.filter((s) => inPrefilteredCase(s));
              rows.push({
                method,
                epsilon: perEpsilon.epsilon,
                transform,
                strength,
                average: { top1: destructionRate(samples, 1), top5: destructionRate(samples, 5) },
                prefiltered: { top1: destructionRate(prefiltered, 1), count: prefiltered.length },
              });
            }
          }
        }
      }
      bar.update(steps, steps);
      bar.done();
      if (options.json) {
        process.stdout.write(JSON.stringify({ model: pool.info().model.id, images: dataset.count, strengths: TRANSFORM_STRENGTHS, rows }, null, 2) + '\n');
        return;
      }
      process.stdout.write(`${pool.info().model.id}, ${dataset.count} images; destruction rate d (Kurakin et al. 2016, Eq. 1): share of adversarial images the transformation makes correct again\n\n`);
      process.stdout.write(formatTable(
        ['method', 'ε', 'transform', 'strength', 'd top-1', 'd top-5', 'd top-1 prefiltered'],
        rows.map((r) => [r.method, Number(r.epsilon.toPrecision(3)), r.transform, r.strength, `${percent(r.average.top1.rate)} (${r.average.top1.eligible})`, percent(r.average.top5.rate), `${percent(r.prefiltered.top1.rate)} (${r.prefiltered.count})`]),
      ) + '\n');
      // The paper's headline comparison: mean destruction per method over all transformations and strengths.
      process.stdout.write('\nmean top-1 destruction per method and ε (all transformations): ');
      const means = new Map<string, number[]>();
      for (const r of rows) if (r.average.top1.rate !== null) means.set(`${r.method} ε=${Number(r.epsilon.toPrecision(3))}`, [...(means.get(`${r.method} ε=${Number(r.epsilon.toPrecision(3))}`) ?? []), r.average.top1.rate]);
      process.stdout.write([...means.entries()].map(([key, v]) => `${key} ${percent(v.reduce((a, b) => a + b, 0) / v.length)}`).join(', ') + '\n');
    } finally {
      bar.done();
      await pool.close();
    }
  }));
}
