/**
 * Print survival through the CLI, the loop a researcher runs: `attack --survival N` records each
 * 8-bit image's estimate and prints its mean, `sheet --min-survival p` prints only the examples
 * predicted to survive, and `analyze` reports the destruction those estimates predicted beside the
 * measured one. Bad flags are refused in one line.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseAttackRecord } from '../app/experiments/attack-record.js';
import { defaultChannelProfile } from '../app/physical/channel-profile.js';
import { foolprint } from './cli-harness.js';
import { builtInWeights } from './physical-fixture.js';
import { tempDirForTest } from './temp-dir.js';

const haveWeights = existsSync(builtInWeights);

describe.skipIf(!haveWeights)('attack --survival → sheet --min-survival → analyze', () => {
  if (!haveWeights) console.warn(`skipped: needs the built-in model weights at ${builtInWeights}`);

  it('records the estimates, prints only the examples likely to survive and predicts their destruction', async () => {
    const dir = tempDirForTest('fp-survival-');
    const profile = { ...defaultChannelProfile(), name: 'My printer' };
    writeFileSync(path.join(dir, 'profile.json'), JSON.stringify(profile));
    const out = path.join(dir, 'attack');
    const attack = await foolprint('attack', '--method', 'bim', '--eps', '0.1,0.2', '--limit', '16', '--survival', '16', '--channel', path.join(dir, 'profile.json'), '--seed', '2', '--workers', '1', '--out', out);
    expect(attack.code, attack.stderr).toBe(0);
    expect(attack.stdout).toMatch(/print survival \(8-bit\)/);
    const record = parseAttackRecord(JSON.parse(readFileSync(path.join(out, 'record.json'), 'utf8')));
    expect(record.options.survival).toMatchObject({ draws: 16, cellMm: 30, channel: { name: 'My printer' } });
    const estimates = record.images.flatMap((image) => image.adversarial.map((a) => a.quantized.survival!));
    expect(estimates).toHaveLength(32);
    // Shares of 16 draws.
    for (const s of estimates) expect(Number.isInteger(s * 16) && s >= 0 && s <= 1).toBe(true);
    const kept = record.images.flatMap((image) => image.adversarial.filter((a) => a.quantized.survival! >= 0.5));
    expect(kept.length).toBeGreaterThan(0);
    expect(kept.length).toBeLessThan(32);
    // The table's mean is over the fooled images: check it against the record.
    const fooled = record.images.flatMap((image) => image.adversarial.filter((a) => a.epsilon === 0.2 && a.quantized.success && image.clean.top5[0].label === image.label));
    const mean = fooled.reduce((sum, a) => sum + a.quantized.survival!, 0) / fooled.length;
    expect(attack.stdout).toContain(`${mean.toFixed(3)} (${fooled.filter((a) => a.quantized.survival! >= 0.5).length}/${fooled.length} ≥ 0.5)`);

    const sheetDir = path.join(dir, 'sheet');
    const sheet = await foolprint('sheet', '--from', out, '--pairs', '--min-survival', '0.5', '--dpi', '100', '--out', sheetDir, '--json');
    expect(sheet.code, sheet.stderr).toBe(0);
    const manifests = (JSON.parse(sheet.stdout) as { sheets: { cells: { kind: string; survival?: number }[] }[] }).sheets;
    const adversarialCells = manifests.flatMap((m) => m.cells.filter((c) => c.kind === 'adversarial'));
    expect(adversarialCells).toHaveLength(kept.length);
    expect(adversarialCells.every((c) => c.survival! >= 0.5)).toBe(true);

    // Singles: a clean original is printed only for an image with an adversarial version kept.
    const singles = await foolprint('sheet', '--from', out, '--min-survival', '0.5', '--dpi', '100', '--out', path.join(dir, 'singles'), '--json');
    expect(singles.code, singles.stderr).toBe(0);
    const singleCells = (JSON.parse(singles.stdout) as { sheets: { cells: { kind: string }[] }[] }).sheets.flatMap((m) => m.cells);
    expect(singleCells.filter((c) => c.kind === 'adversarial')).toHaveLength(kept.length);
    expect(singleCells.filter((c) => c.kind === 'clean')).toHaveLength(record.images.filter((image) => image.adversarial.some((a) => a.quantized.survival! >= 0.5)).length);

    const photo = path.join(dir, 'photo.png');
    const first = JSON.parse(readFileSync(path.join(sheetDir, 'sheet.manifest.json'), 'utf8')) as { page: number };
    expect(first.page).toBe(1);
    const simulate = await foolprint('simulate', '--sheet', path.join(sheetDir, 'sheet.png'), '--out', photo, '--seed', '5');
    expect(simulate.code, simulate.stderr).toBe(0);
    const analyze = await foolprint('analyze', photo, '--sheets', sheetDir, '--workers', '1');
    expect(analyze.code, analyze.stderr).toBe(0);
    expect(analyze.stdout).toMatch(/predicted top-1/);
    const json = await foolprint('analyze', photo, '--sheets', sheetDir, '--workers', '1', '--json');
    const rows = (JSON.parse(json.stdout) as { table: { case: string; predictedDestructionTop1: number | null }[] }).table;
    const predicted = rows.filter((r) => r.case === 'average').map((r) => r.predictedDestructionTop1);
    expect(predicted.some((p) => p !== null)).toBe(true);
    // Only cells predicted to survive at least half the draws were printed.
    for (const p of predicted) if (p !== null) expect(p).toBeLessThanOrEqual(0.5);
  }, 180_000);

  it.each([
    [['attack', '--eps', '0.1', '--limit', '1', '--survival', '0'], /--survival/],
    [['attack', '--eps', '0.1', '--limit', '1', '--survival', '5000'], /--survival.*4096|4096.*--survival/],
    [['attack', '--eps', '0.1', '--limit', '1', '--channel', 'x.json'], /--channel applies to --eot or --survival/],
    [['sheet', '--from', '.', '--min-survival', '1.5'], /--min-survival must be a share from 0 to 1, got "1.5"/],
  ])('refuses %j in one line', async (args, message) => {
    const run = await foolprint(...args);
    expect(run.code).not.toBe(0);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(message);
  });

  it('refuses --min-survival on a run without estimates, saying how to make them', async () => {
    const dir = tempDirForTest('fp-survival-');
    const attack = await foolprint('attack', '--method', 'fgsm', '--eps', '0.1', '--limit', '2', '--workers', '1', '--out', path.join(dir, 'attack'));
    expect(attack.code, attack.stderr).toBe(0);
    const sheet = await foolprint('sheet', '--from', path.join(dir, 'attack'), '--min-survival', '0.5', '--out', path.join(dir, 'sheet'));
    expect(sheet.code).toBe(2);
    expect(sheet.stderr).toMatch(/has no print survival estimates to select by: run the attack with a print survival estimate \(--survival <draws>\) first/);
  }, 60_000);
});
