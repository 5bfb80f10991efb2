/**
 * The CLI as a user runs it: the built `foolprint` binary in a child process, real files, real
 * exit codes. (npm test builds dist/ first.)
 */
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { parseAttackRecord } from '../app/experiments/attack-record.js';
import { bin, foolprint, root } from './cli-harness.js';
import { tempDirForTest } from './temp-dir.js';

describe('foolprint CLI', () => {
  it('lists the Fashion-MNIST model after the digits\' one, and --model cnn-fashion-mnist --data samples gives its own garments, named in the attack record and the sheet captions', async () => {
    const models = await foolprint('models');
    expect(models.code).toBe(0);
    const rows = models.stdout.split('\n').filter((line) => /mnist/.test(line));
    expect(rows[0]).toMatch(/^\s*lenet-mnist\s+28x28x1\s+10\s+.*0, 1, 2, 3, …$/);
    expect(rows[1]).toMatch(/^\s*cnn-fashion-mnist\s+28x28x1\s+10\s+Small CNN on Fashion-MNIST\s+T-shirt\/top, Trouser, Pullover, Dress, …$/);

    const evaluation = await foolprint('eval', '--model', 'cnn-fashion-mnist', '--data', 'samples', '--json');
    expect(evaluation.code).toBe(0);
    const report = JSON.parse(evaluation.stdout);
    expect(report.count).toBe(300);
    expect(report.top1).toBeGreaterThanOrEqual(0.9);

    const out = tempDirForTest('fp-fashion-');
    const attack = await foolprint('attack', '--model', 'cnn-fashion-mnist', '--method', 'fgsm', '--eps', '0.1', '--limit', '10', '--out', path.join(out, 'attack'), '--json');
    expect(attack.code).toBe(0);
    const record = parseAttackRecord(JSON.parse(readFileSync(path.join(out, 'attack', 'record.json'), 'utf8')));
    expect(record.model.labels[9]).toBe('Ankle boot');
    expect(record.images.map((image) => image.label)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const sheet = await foolprint('sheet', '--from', path.join(out, 'attack'), '--out', path.join(out, 'sheet'), '--dpi', '100');
    expect(sheet.code).toBe(0);
    const manifest = JSON.parse(readFileSync(path.join(out, 'sheet', 'sheet.manifest.json'), 'utf8')) as { classNames: string[]; cells: { caption: string; trueLabel: number }[] };
    expect(manifest.classNames[0]).toBe('T-shirt/top');
    const captions = manifest.cells.map((cell) => cell.caption);
    expect(captions).toContain('clean #9 y=Ankle boot');
    expect(captions).toContain('FGSM ε=0.1 #0 y=T-shirt/top');
  });

  it('sweep --json: accuracy falls strictly from ε=0 to ε=0.3, float and 8-bit', async () => {
    const run = await foolprint('sweep', '--method', 'fgsm', '--eps', '0,0.1,0.2,0.3', '--limit', '120', '--json');
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report.count).toBe(120);
    expect(report.perEpsilon.map((e: { epsilon: number }) => e.epsilon)).toEqual([0, 0.1, 0.2, 0.3]);
    const accuracy = report.perEpsilon.map((e: { float: { accuracy: number } }) => e.float.accuracy);
    const accuracy8 = report.perEpsilon.map((e: { quantized: { accuracy: number } }) => e.quantized.accuracy);
    expect(accuracy[0]).toBeGreaterThan(0.9);
    for (let i = 1; i < accuracy.length; i++) {
      expect(accuracy[i]).toBeLessThan(accuracy[i - 1]);
      expect(accuracy8[i]).toBeLessThan(accuracy8[i - 1]);
    }
    // Clipping to [0,1] shortens some steps (a black pixel cannot get darker), so the mean L∞ is
    // at most ε, and well above zero.
    expect(report.perEpsilon[3].float.meanLinf).toBeLessThanOrEqual(0.3 + 1e-6);
    expect(report.perEpsilon[3].float.meanLinf).toBeGreaterThan(0.2);
  });

  it('attack writes clean, adversarial and perturbation PNGs and a record that parses', async () => {
    const out = tempDirForTest('fp-attack-');
    const run = await foolprint('attack', '--method', 'bim', '--eps', '0.1,16/255', '--limit', '3', '--out', out, '--json');
    expect(run.code).toBe(0);
    const record = parseAttackRecord(JSON.parse(readFileSync(path.join(out, 'record.json'), 'utf8')));
    expect(record.images).toHaveLength(3);
    expect(record.epsilons[1]).toBeCloseTo(16 / 255, 10);
    const first = record.images[0];
    for (const file of [first.clean.file, first.adversarial[0].file, first.adversarial[1].perturbationFile]) {
      const meta = await sharp(path.join(out, file)).metadata();
      expect([meta.width, meta.height]).toEqual([28, 28]);
    }
    // The saved adversarial PNG is exactly the 8-bit view the record scored: its L∞ distance to the
    // saved clean PNG is within ε (plus half a level of rounding on each side).
    const clean = await sharp(path.join(out, first.clean.file)).extractChannel(0).raw().toBuffer();
    const adversarial = await sharp(path.join(out, first.adversarial[0].file)).extractChannel(0).raw().toBuffer();
    let linf = 0;
    for (let i = 0; i < clean.length; i++) linf = Math.max(linf, Math.abs(clean[i] - adversarial[i]) / 255);
    expect(linf).toBeLessThanOrEqual(0.1 + 1 / 255);
    expect(linf).toBeCloseTo(first.adversarial[0].quantized.linf, 5);
  });

  it('eval reports top-1 and top-5 on the built-in samples', async () => {
    const run = await foolprint('eval', '--json');
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report.count).toBeGreaterThanOrEqual(100);
    expect(report.top1).toBeGreaterThan(0.9);
    expect(report.top5).toBeGreaterThanOrEqual(report.top1);
  });

  it.each([
    [['sweep', '--eps', '0,abc'], 2, /--eps must be a comma list/],
    [['sweep', '--method', 'cw'], 2, /--method must be one of/],
    [['sweep', '--limit', '-3'], 2, /--limit must be a positive whole number/],
    [['sweep', '--loss', 'ce-flaot32'], 2, /^foolprint: --loss must be one of ce, margin or ce-float32, got "ce-flaot32"$/m],
    // Bounds from the API contract (issue 7 §7): refused before any attack runs.
    [['sweep', '--steps', '1e9'], 2, /^foolprint: --steps must be at most 10000, got 1000000000$/m],
    [['attack', '--eps', '2'], 2, /--eps must be at most 1, got 2 \(ε is in \[0,1\] pixel units: 8 levels is 8\/255/],
    [['attack', '--eps', '0x10'], 2, /--eps must be a comma list/],
    [['attack', '--steps', '0x10'], 2, /--steps must be a positive whole number, got "0x10"/],
    [['sweep', '--method', 'deepfool', '--overshoot', '1e308'], 2, /--overshoot must be at most 1/],
    [['transforms', '--epsilons', '0.1,16'], 2, /--epsilons must be at most 1, got 16/],
    [['attack', '--out', 'package.json'], 2, /^foolprint: --out package\.json is a file, not a folder: give a folder to write into$/m],
    // Commander's own usage errors exit 2 like ours (issue 7 §7), not commander's 1.
    [['eval', '--no-such-flag'], 2, /unknown option '--no-such-flag'/],
    [['models', 'list', '--nope'], 2, /unknown option '--nope'/],
    [['attack', '--eps'], 2, /argument missing/],
    [['eval', '--model', '/nonexistent/model-folder'], 1, /nonexistent/],
    [['eval', '--data', '/nonexistent/data'], 1, /nonexistent/],
  ])('bad input %j exits %i with one clear line', async (args, code, message) => {
    const run = await foolprint(...(args as string[]));
    expect(run.code).toBe(code);
    expect(run.stderr).toMatch(message);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });

  it('a model.json that is not a model is refused with a clear message', async () => {
    const folder = tempDirForTest('fp-badmodel-');
    writeFileSync(path.join(folder, 'model.json'), JSON.stringify({ hello: 'world' }));
    const run = await foolprint('eval', '--model', folder);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/model/i);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('labels out of the model range are refused', async () => {
    const folder = tempDirForTest('fp-labels-');
    mkdirSync(path.join(folder, 'images'));
    const blank = await sharp({ create: { width: 28, height: 28, channels: 3, background: '#000' } }).png().toBuffer();
    writeFileSync(path.join(folder, 'images', 'a.png'), blank);
    writeFileSync(path.join(folder, 'images', 'labels.csv'), 'a.png,12\n');
    const run = await foolprint('eval', '--data', path.join(folder, 'images'));
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/12/);
  });

  it('caps --workers at the core count with a note, and still evaluates (issue 7 §7)', async () => {
    const run = await foolprint('eval', '--workers', '4096', '--limit', '20');
    expect(run.code).toBe(0);
    expect(run.stderr).toContain(`note: 4096 workers asked for, but this machine has ${availableParallelism()} core`);
    expect(run.stdout).toMatch(/top-1 \d/);
  }, 60_000);

  it('Ctrl-C right after the first line a command prints cancels it (exit 130, one line), never Node\'s default kill', async () => {
    // The note on --workers comes from opening the pool, before the images load: a caller acting on it
    // used to find no handler yet (killed by SIGINT, exit code null, every time).
    const child = spawn(process.execPath, [bin, 'eval', '--workers', '4096'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      if (stderr === '') child.kill('SIGINT');
      stderr += chunk.toString();
    });
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('exit', (c, s) => resolve([c, s])));
    expect(stderr).toMatch(/^note: 4096 workers asked for/);
    expect([code, signal]).toEqual([130, null]);
    expect(stderr.trim().split('\n').at(-1)).toBe('foolprint: cancelled');
  }, 60_000);

  it('has --help on every command', async () => {
    for (const command of ['models', 'eval', 'attack', 'sweep', 'doctor']) {
      const run = await foolprint(command, '--help');
      expect(run.code).toBe(0);
      expect(run.stdout).toContain(`Usage: foolprint ${command}`);
    }
  });
});
