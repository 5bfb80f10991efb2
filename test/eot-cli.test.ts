/**
 * "Robust to print" through the hosts: `foolprint attack --eot N [--channel profile.json]` records the
 * EOT run, `sheet` names it "bim+eot2" for the analysis, bad flags and profiles are refused in one
 * line, and the API contract takes params.eot with a profile or refuses a broken one.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { attackParamsSchema } from '../app/api/attacks.js';
import { parseAttackRecord } from '../app/experiments/attack-record.js';
import { defaultChannelProfile } from '../app/physical/channel-profile.js';
import { foolprint } from './cli-harness.js';
import { tempDirForTest } from './temp-dir.js';

describe('attack --eot', () => {
  it('records the EOT run with its channel and momentum, and sheets name it bim+mi1+eot2+refine3', async () => {
    const dir = tempDirForTest('fp-eot-');
    const profile = { ...defaultChannelProfile(), name: 'My printer' };
    writeFileSync(path.join(dir, 'profile.json'), JSON.stringify(profile));
    const out = path.join(dir, 'attack');
    const run = await foolprint('attack', '--method', 'bim', '--eps', '0.1', '--steps', '2', '--limit', '2', '--eot', '2', '--channel', path.join(dir, 'profile.json'), '--eot-keep', 'most-robust', '--eot-refine', '3', '--momentum', '1', '--seed', '3', '--out', out, '--json', '--workers', '1');
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const record = parseAttackRecord(JSON.parse(readFileSync(path.join(out, 'record.json'), 'utf8')));
    expect(record.method).toBe('bim');
    expect(record.options.eot).toMatchObject({ samples: 2, cellMm: 30, channel: { name: 'My printer' }, keep: 'most-robust', refine: 3 });
    expect(record.options.seed).toBe(3);
    expect(record.options.momentum).toBe(1);
    const sheet = await foolprint('sheet', '--from', out, '--pairs', '--out', path.join(dir, 'sheet'), '--dpi', '72', '--json');
    expect(sheet.code).toBe(0);
    const manifest = JSON.parse(readFileSync(path.join(dir, 'sheet', 'sheet.manifest.json'), 'utf8')) as { cells: { kind: string; method: string | null }[] };
    expect(manifest.cells.filter((c) => c.kind === 'adversarial').map((c) => c.method)).toEqual(['bim+mi1+eot2+refine3', 'bim+mi1+eot2+refine3']);
  }, 120_000);

  it.each([
    [['--method', 'fgsm', '--eot', '4'], /--eot applies to bim, ll, pgd, not fgsm/],
    [['--method', 'bim', '--eot', '0'], /--eot/],
    [['--method', 'bim', '--channel', 'x.json'], /--channel applies to --eot/],
    [['--method', 'bim', '--loss', 'margin', '--eot-confidence', '5'], /--eot-confidence applies to --eot/],
    [['--method', 'bim', '--eot', '4', '--eot-confidence', '5'], /--eot-confidence caps the logit margin: give --loss margin too/],
    [['--method', 'bim', '--eot', '4', '--loss', 'margin', '--eot-confidence', '-1'], /--eot-confidence/],
    [['--method', 'bim', '--eot', '4', '--channel', 'no-such-profile.json'], /--channel no-such-profile.json: no such file/],
    [['--method', 'bim', '--eot-keep', 'most-robust'], /--eot-keep applies to --eot/],
    [['--method', 'bim', '--eot', '4', '--eot-keep', 'best'], /--eot-keep/],
    [['--method', 'bim', '--eot-refine', '10'], /--eot-refine applies to --eot/],
    [['--method', 'bim', '--eot', '4', '--eot-refine', '1.5'], /--eot-refine must be a positive whole number, got "1.5"/],
    [['--method', 'fgsm', '--momentum', '1'], /--momentum applies to bim, ll, pgd, not fgsm/],
    [['--method', 'bim', '--momentum', '11'], /--momentum/],
    [['--method', 'bim', '--momentum', '-1'], /--momentum/],
  ])('refuses %j in one line', async (flags, message) => {
    const run = await foolprint('attack', '--eps', '0.1', '--limit', '1', ...flags);
    expect(run.code).not.toBe(0);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(message);
  });

  it('refuses a profile that is not one, naming the field', async () => {
    const dir = tempDirForTest('fp-eot-');
    writeFileSync(path.join(dir, 'bad.json'), JSON.stringify({ ...defaultChannelProfile(), blurMm: [2, 1] }));
    const run = await foolprint('attack', '--method', 'bim', '--eps', '0.1', '--limit', '1', '--eot', '2', '--channel', path.join(dir, 'bad.json'));
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/bad\.json is not a Foolprint channel profile: blurMm/);
  });
});

describe('params.eot in the API contract', () => {
  it('takes samples with or without a profile and refuses a broken profile', () => {
    expect(attackParamsSchema.safeParse({ method: 'bim', epsilons: [0.1], eot: { samples: 16 } }).success).toBe(true);
    expect(attackParamsSchema.safeParse({ method: 'pgd', epsilons: [0.1], eot: { samples: 16, channel: defaultChannelProfile() } }).success).toBe(true);
    expect(attackParamsSchema.safeParse({ method: 'bim', epsilons: [0.1], eot: { samples: 0 } }).success).toBe(false);
    expect(attackParamsSchema.safeParse({ method: 'bim', epsilons: [0.1], loss: 'margin', eot: { samples: 4, confidence: 5 } }).success).toBe(true);
    expect(attackParamsSchema.safeParse({ method: 'bim', epsilons: [0.1], loss: 'margin', eot: { samples: 4, confidence: -1 } }).success).toBe(false);
    expect(attackParamsSchema.safeParse({ method: 'bim', epsilons: [0.1], eot: { samples: 4, channel: { ...defaultChannelProfile(), tone: [[1, 0], [0, 1], [0, 1]] } } }).success).toBe(false);
  });
});
