/**
 * `foolprint calibrate` and `simulate --channel` from dist/ (npm test builds it first): the sheet is
 * written, photos of it simulated through a known profile give that profile back, and bad input is
 * one line and exit code 2.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultChannelProfile, parseChannelProfile } from '../app/physical/channel-profile.js';
import { repoRoot } from './physical-fixture.js';

const commands = path.join(repoRoot, 'dist/main/cli/commands');
const built = ['calibrate', 'simulate'].every((name) => existsSync(path.join(commands, `${name}.js`)));
const program = `
import { createRequire } from 'node:module';
const { Command } = createRequire(${JSON.stringify(path.join(repoRoot, 'package.json'))})('commander');
const program = new Command('foolprint');
for (const [file, register] of [['calibrate', 'registerCalibrate'], ['simulate', 'registerSimulate']]) {
  (await import(${JSON.stringify(commands)} + '/' + file + '.js'))[register](program);
}
await program.parseAsync(process.argv);
`;

const dir = mkdtempSync(path.join(os.tmpdir(), 'foolprint-calibrate-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const harness = path.join(dir, 'foolprint.mjs');
writeFileSync(harness, program);

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [harness, ...args], { cwd: dir, env: { ...process.env, FOOLPRINT_DEBUG: '' }, maxBuffer: 64e6 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

describe.skipIf(!built)('foolprint calibrate', () => {
  if (!built) console.warn('skipped: run npm run build first');

  it('writes the sheet, and fits photos simulated through a known profile back to it', async () => {
    const sheet = await run(['calibrate', '--sheet', '--out', 'cal', '--dpi', '150', '--json']);
    expect(sheet.stderr).toBe('');
    expect(sheet.code).toBe(0);
    const written = JSON.parse(sheet.stdout) as { pdf: string; png: string; manifest: string; patches: number };
    expect([written.pdf, written.png, written.manifest].every((f) => existsSync(f))).toBe(true);
    expect(readFileSync(written.pdf).subarray(0, 5).toString()).toBe('%PDF-');
    expect(written.patches).toBeGreaterThanOrEqual(40);

    const known = defaultChannelProfile();
    known.tone = [0, 1, 2].map((c) => known.tone[c].map((v, k) => 0.06 + 0.02 * c + 0.86 * (k / 16) ** (1 + 0.15 * c))) as typeof known.tone;
    known.blurMm = [0.35, 0.35];
    known.noiseSigma = [0.01, 0.01];
    known.brightness = [0, 0];
    known.contrast = [1, 1];
    known.jpegQuality = null;
    writeFileSync(path.join(dir, 'known.json'), JSON.stringify(known));
    for (const seed of ['1', '2']) {
      const simulated = await run(['simulate', '--sheet', 'cal/calibration.png', '--channel', 'known.json', '--out', `photo-${seed}.png`, '--width', '1600', '--height', '1200', '--tilt', '12', '--paper-texture', '0', '--seed', seed]);
      expect(simulated.stderr).toBe('');
      expect(simulated.code).toBe(0);
    }
    const fitted = await run(['calibrate', 'photo-1.png', 'photo-2.png', '--sheets', 'cal', '--out', 'profile.json', '--name', 'known printer', '--json']);
    expect(fitted.stderr).toBe('');
    expect(fitted.code).toBe(0);
    const profile = parseChannelProfile(readFileSync(path.join(dir, 'profile.json'), 'utf8'));
    expect(profile.name).toBe('known printer');
    expect((JSON.parse(fitted.stdout) as { profile: unknown }).profile).toEqual(profile);
    let toneError = 0;
    for (let c = 0; c < 3; c++) for (let k = 0; k < 17; k++) toneError = Math.max(toneError, Math.abs(profile.tone[c][k] - known.tone[c][k]));
    expect(toneError).toBeLessThan(0.02);
    expect(profile.blurMm[0]).toBeGreaterThan(0.3);
    expect(profile.blurMm[1]).toBeLessThan(0.4);
    expect(profile.jpegQuality).toBeNull();
  }, 180_000);

  it('bad input is one line and a usage error', async () => {
    writeFileSync(path.join(dir, 'not-a-photo.jpg'), 'hello');
    writeFileSync(path.join(dir, 'bad-profile.json'), '{"kind":"foolprint-channel-profile"}');
    const cases: [string[], RegExp][] = [
      [['calibrate'], /give photos of the printed calibration sheet, or --sheet/],
      [['calibrate', 'x.jpg', '--sheets', 'nowhere'], /calibration sheets not found: nowhere/],
      [['calibrate', 'not-a-photo.jpg', '--sheets', 'cal'], /not-a-photo\.jpg: unreadable photo/],
      [['calibrate', 'missing.jpg', '--sheets', 'cal'], /missing\.jpg: unreadable photo \(no such file\)/],
      [['calibrate', 'cal/calibration.png', '--sheets', 'cal', '--out', 'profile.txt'], /--out must end in \.json/],
      [['simulate', '--sheet', 'cal/calibration.png', '--channel', 'bad-profile.json', '--out', 'x.png'], /bad-profile\.json is not a Foolprint channel profile: version/],
    ];
    for (const [args, message] of cases) {
      const result = await run(args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr).toMatch(message);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
    }
  }, 60_000);
});
