/**
 * `foolprint robustness`, `transfer` and `detect` on real files: the built-in LeNet and digits, a
 * few dozen images each (the shared CPU). Bad flags are refused in one line with exit code 2.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { bin, foolprint, root } from './cli-harness.js';
import { tempDirForTest } from './temp-dir.js';

describe('foolprint defense commands', () => {
  it('robustness --json: the 1-bit squeezer is flagged (transfer and BPDA beat the zero gradient), the plain LeNet is not', async () => {
    const run = await foolprint('robustness', '--models', 'lenet-mnist,lenet-mnist+bits1', '--attacks', 'fgsm', '--eps', '0,0.3', '--limit', '32', '--json');
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report.models.map((m: { id: string }) => m.id)).toEqual(['lenet-mnist', 'lenet-mnist+bits1']);
    expect(report.surrogateId).toBe('lenet-mnist');
    expect(report.models[0].masking.suspected).toBe(false);
    expect(report.models[1].masking.suspected).toBe(true);
    const views = report.models[1].curves.map((c: { view: string }) => c.view);
    expect(views).toEqual(['ce', 'margin', 'bpda-ce', 'bpda-margin', 'transfer']);
  });

  it('transfer prints the matrix with the target\'s clean accuracy; detect --out writes detector.json', async () => {
    const transfer = await foolprint('transfer', '--models', 'lenet-mnist,lenet-mnist+median2', '--method', 'fgsm', '--eps', '0.2', '--limit', '24');
    expect(transfer.code).toBe(0);
    expect(transfer.stdout).toMatch(/FGSM ε 0.2 \(ce\), accuracy of the target on the source's examples, 24 images/);
    expect(transfer.stdout).toMatch(/LeNet \(seed\) on MNIST \+ median 2x2/);
    const out = tempDirForTest('foolprint-detect-');
    const detect = await foolprint('detect', '--limit', '80', '--eps', '0.25', '--out', out, '--json');
    expect(detect.code).toBe(0);
    const summary = JSON.parse(detect.stdout);
    expect(summary.evaluations[0].auc).toBeGreaterThan(0.7);
    const saved = JSON.parse(readFileSync(path.join(out, 'detector.json'), 'utf8'));
    expect(saved).toMatchObject({ schemaVersion: 1, modelId: 'lenet-mnist', layer: 'fc1', quantisation: 'quaternary' });
    expect(saved.svm).toMatch(/svm_type c_svc/);
    expect(saved.codebook.thresholds).toHaveLength(50);
  });

  it('Ctrl-C cancels a running evaluation: the worker stops and the command exits 130', async () => {
    const child = spawn(process.execPath, [bin, 'transfer', '--models', 'lenet-mnist,lenet-mnist+median2', '--method', 'pgd', '--steps', '500', '--eps', '0.3', '--limit', '200'], { cwd: root });
    let stderr = '';
    // The loader's note comes once the images are loaded, just before the worker starts attacking.
    const loaded = new Promise<void>((resolve) => child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (/using the first 200/.test(stderr)) resolve();
    }));
    await loaded;
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const started = Date.now();
    child.kill('SIGINT');
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(130);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(stderr).toMatch(/cancelled/);
  });

  it.each([
    [['transfer', '--models', 'lenet-mnist,lenet-mnist', '--eps', '2'], /--eps must be at most 1/],
    [['transfer', '--models', 'lenet-mnist'], /--models: .*2/],
    [['transfer', '--models', 'lenet-mnist,lenet-mnist', '--loss', 'cee'], /--loss: .*"ce"\|"margin"\|"ce-float32"/],
    [['robustness', '--attacks', 'fgsm,cw'], /--attacks/],
    [['robustness', '--models', 'lenet-mnist+jpeg0'], /JPEG quality must be an integer from 1 to 100/],
    [['detect', '--quantisation', 'ternary'], /--quantisation/],
    [['detect', '--model', 'lenet-mnist+bits4'], /without a \+transform/],
  ])('refuses %j in one line', async (args, message) => {
    const run = await foolprint(...args);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(message);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
  });
});
