/**
 * The CLI commands of the physical pipeline, run from dist/ (npm test builds it first) through a tiny
 * program that registers only them, as main/cli/index.js will: exit codes, one-line errors, JSON.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { imageCanvases, renderSheetCanvas } from '../app/node/sheet-render.js';
import { planSheets } from '../app/physical/sheet-manifest.js';
import sharp from 'sharp';
import { builtInWeights, digits, renderSheet, repoRoot } from './physical-fixture.js';

const commands = path.join(repoRoot, 'dist/main/cli/commands');
const built = ['analyze', 'simulate', 'transforms', 'attack', 'sheet'].every((name) => existsSync(path.join(commands, `${name}.js`)));
const program = `
import { createRequire } from 'node:module';
const { Command } = createRequire(${JSON.stringify(path.join(repoRoot, 'package.json'))})('commander');
const program = new Command('foolprint');
for (const [file, register] of [['analyze', 'registerAnalyze'], ['simulate', 'registerSimulate'], ['transforms', 'registerTransforms'], ['attack', 'registerAttack'], ['sheet', 'registerSheet']]) {
  (await import(${JSON.stringify(commands)} + '/' + file + '.js'))[register](program);
}
await program.parseAsync(process.argv);
`;

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    // A file, not --eval: the compute pool's workers inherit execArgv, and --input-type breaks them.
    execFile(process.execPath, [harness, ...args], { cwd: repoRoot, env: { ...process.env, FOOLPRINT_DEBUG: '' }, maxBuffer: 64e6 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'foolprint-physical-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const harness = path.join(dir, 'foolprint.mjs');
writeFileSync(harness, program);

const set = digits(24);
const records = Array.from(set.labels, (trueLabel, i) => ({ kind: 'clean' as const, imageId: `t10k-${i}`, sourceIndex: i, trueLabel }));
const plan = planSheets(records, [28, 28, 1], { experiment: 'cli', dpi: 150, createdAt: '2026-11-28T22:00:00Z' });
const sheetPng = path.join(dir, 'sheet.png');
const manifestFile = path.join(dir, 'sheet.manifest.json');
writeFileSync(sheetPng, renderSheetCanvas(plan, 0, imageCanvases(set.images, [24, 28, 28, 1]), 150).toBuffer('image/png'));
writeFileSync(manifestFile, JSON.stringify(plan.manifests[0]));

describe.skipIf(!built)('foolprint simulate / analyze / transforms', () => {
  if (!built) console.warn('skipped: run npm run build first (dist/main/cli/commands/{analyze,simulate,transforms}.js)');

  it('simulate writes a real JPEG with the true homography, and refuses bad parameters in one line', async () => {
    const photo = path.join(dir, 'photo.jpg');
    const result = await run(['simulate', '--sheet', sheetPng, '--out', photo, '--seed', '3', '--width', '960', '--height', '720', '--jpeg-quality', '80', '--json']);
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report.jpeg).toEqual({ encoder: 'sharp (libjpeg)', quality: 80 });
    expect(report.homography).toHaveLength(9);
    expect(readFileSync(photo).subarray(0, 2)).toEqual(Buffer.from([0xff, 0xd8]));
    const again = await run(['simulate', '--sheet', sheetPng, '--out', path.join(dir, 'again.jpg'), '--seed', '3', '--width', '960', '--height', '720', '--jpeg-quality', '80', '--json']);
    expect(JSON.parse(again.stdout).homography).toEqual(report.homography);

    const bad = await run(['simulate', '--sheet', sheetPng, '--out', path.join(dir, 'x.jpg'), '--blur', '-1']);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split('\n')).toEqual(['foolprint: blurSigma must be from 0 to 20, got -1']);
    const missing = await run(['simulate', '--sheet', path.join(dir, 'nope.png')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^foolprint: image not found: .*nope\.png\n$/);
  });

  it('analyze finds the sheet in the photo and classifies every cell', async () => {
    if (!existsSync(builtInWeights)) {
      console.warn(`skipped: needs the built-in model weights at ${builtInWeights}`);
      return;
    }
    const photo = path.join(dir, 'photo-a.png');
    expect((await run(['simulate', '--sheet', sheetPng, '--out', photo, '--seed', '4'])).code).toBe(0);
    const outDir = path.join(dir, 'analysis');
    const result = await run(['analyze', photo, '--sheets', manifestFile, '--workers', '1', '--json', '--out', outDir]);
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout);
    const analysis = report.photos[0].analysis;
    expect(analysis.status).toBe('ok');
    expect(analysis.cells).toHaveLength(24);
    expect(analysis.cells.every((c: { top5?: unknown[] }) => c.top5?.length === 5)).toBe(true);
    expect(report.agreement.total).toBe(0); // clean cells without digital predictions in the manifest: nothing to compare
    expect(existsSync(path.join(outDir, 'photo-a.analysis.json'))).toBe(true);
    const top1 = analysis.cells.filter((c: { top5: { label: number }[]; record: { trueLabel: number } }) => c.top5[0].label === c.record.trueLabel).length;
    expect(top1 / 24).toBeGreaterThanOrEqual(0.9);

    const badCombine = await run(['analyze', photo, '--sheets', manifestFile, '--combine', 'median']);
    expect(badCombine.code).toBe(2);
    expect(badCombine.stderr).toBe('foolprint: --combine must be vote or mean, got "median"\n');
    const noManifest = await run(['analyze', photo, '--sheets', path.join(dir, 'none.json')]);
    expect(noManifest.code).toBe(2);
    expect(noManifest.stderr).toMatch(/sheet manifest .*none\.json does not exist/);
  });

  it('analyze scores a photo only against the sheet set it shows: B\'s page is refused against A, picked from A and B', async () => {
    if (!existsSync(builtInWeights)) {
      console.warn(`skipped: needs the built-in model weights at ${builtInWeights}`);
      return;
    }
    // Two attack runs, sheets of each: both print sheet 0 with corner markers 0-3.
    for (const [name, method] of [['A', 'fgsm'], ['B', 'bim']]) {
      const attack = await run(['attack', '--method', method, '--eps', '16/255', '--limit', '12', '--workers', '1', '--out', path.join(dir, `run-${name}`)]);
      expect(attack.code, attack.stderr).toBe(0);
      const sheet = await run(['sheet', '--from', path.join(dir, `run-${name}`), '--pairs', '--dpi', '100', '--out', path.join(dir, name)]);
      expect(sheet.code, sheet.stderr).toBe(0);
    }
    const manifestA = JSON.parse(readFileSync(path.join(dir, 'A', 'sheet.manifest.json'), 'utf8'));
    const manifestB = JSON.parse(readFileSync(path.join(dir, 'B', 'sheet.manifest.json'), 'utf8'));
    expect([manifestA.sheetNumber, manifestB.sheetNumber]).toEqual([0, 0]);
    expect(manifestA.identity).not.toBe(manifestB.identity);
    const photoB = path.join(dir, 'photoB.jpg');
    const simulated = await run(['simulate', '--sheet', path.join(dir, 'B', 'sheet.png'), '--out', photoB, '--seed', '5', '--width', '1280', '--height', '720', '--jpeg-quality', '85']);
    expect(simulated.code, simulated.stderr).toBe(0);

    // Against A only: refused (exit 1), naming the set seen and the set expected.
    const againstA = await run(['analyze', photoB, '--sheets', path.join(dir, 'A'), '--workers', '1']);
    expect(againstA.code, againstA.stdout + againstA.stderr).toBe(1);
    expect(againstA.stdout).toContain(`photoB.jpg: unknown-sheet: the photo shows sheet 0 of set ${manifestB.identity}, which no given manifest describes (expected set ${manifestA.identity} (${manifestA.sheetId}))`);
    expect(againstA.stdout).not.toMatch(/: ok:/);

    // Against A and B (either order): B's manifest, every cell.
    for (const order of [['A', 'B'], ['B', 'A']]) {
      const both = await run(['analyze', photoB, '--sheets', ...order.map((name) => path.join(dir, name)), '--workers', '1', '--json']);
      expect(both.code, both.stderr).toBe(0);
      const analysis = JSON.parse(both.stdout).photos[0].analysis;
      expect(analysis).toMatchObject({ status: 'ok', sheetId: manifestB.sheetId, identity: manifestB.identity });
      expect(analysis.cells).toHaveLength(24);
      expect(analysis.cells.map((c: { record: { method: string | null } }) => c.record.method)).toEqual(manifestB.cells.map((c: { method: string | null }) => c.method));
    }
  });

  it('analyze still reads version-1 manifests (before identities), warning that the set cannot be checked', async () => {
    if (!existsSync(builtInWeights)) {
      console.warn(`skipped: needs the built-in model weights at ${builtInWeights}`);
      return;
    }
    const old = renderSheet(set, { identity: null, dpi: 100 });
    const oldPng = path.join(dir, 'old-sheet.png');
    const oldManifest = path.join(dir, 'old.manifest.json');
    await sharp(Buffer.from(old.image.data.buffer, old.image.data.byteOffset, old.image.data.length), { raw: { width: old.image.width, height: old.image.height, channels: 4 } }).png().toFile(oldPng);
    writeFileSync(oldManifest, JSON.stringify({ ...old.manifest, identity: undefined, geometry: { ...old.manifest.geometry, identityMarkers: undefined } }));
    expect(JSON.parse(readFileSync(oldManifest, 'utf8'))).toMatchObject({ schemaVersion: 1 });
    const photo = path.join(dir, 'old-photo.jpg');
    expect((await run(['simulate', '--sheet', oldPng, '--out', photo, '--seed', '6'])).code).toBe(0);
    const result = await run(['analyze', photo, '--sheets', oldManifest, '--workers', '1']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain('warning: 1 of 1 sheet manifests are version 1 (written before sheet identities): photos of their sheets cannot be checked to show that set');
    expect(result.stdout).toContain(`old-photo.jpg: ok: sheet 0 (${old.manifest.sheetId})`);
    expect(result.stdout).toContain(`  warning: manifest ${old.manifest.sheetId} is version 1 (written before sheet identities): cannot check that the photo shows this sheet set`);
  });

  it('transforms reports a destruction rate per strength', async () => {
    if (!existsSync(builtInWeights)) {
      console.warn(`skipped: needs the built-in model weights at ${builtInWeights}`);
      return;
    }
    const result = await run(['transforms', '--limit', '40', '--methods', 'fgsm', '--epsilons', '0.2', '--transforms', 'blur', '--workers', '1', '--json']);
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report.rows.map((r: { strength: number }) => r.strength)).toEqual([0.5, 1, 1.5, 2]);
    for (const row of report.rows) {
      expect(row.average.top1.eligible).toBeGreaterThan(0);
      expect(row.average.top1.rate).toBeGreaterThanOrEqual(0);
      expect(row.average.top1.rate).toBeLessThanOrEqual(1);
    }
    const bad = await run(['transforms', '--transforms', 'sepia']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--transforms must list some of brightness, contrast/);
  });
});
