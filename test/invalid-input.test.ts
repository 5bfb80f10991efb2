/**
 * Plain words for refused payloads (issue 8 §4) and the contract's bounds (issue 7 §7): each case is
 * what a user of the screens (or a script) sends, and the sentence they read back.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { API_METHOD_NAMES, apiMethods, describeInvalidInput } from '../app/api/index.js';
import type { ApiMethodName } from '../app/api/index.js';
import { closestName } from '../app/closest-name.js';

const attack = (params: Record<string, unknown>, images: Record<string, unknown> = { kind: 'samples' }) => ({
  experimentId: 'e1',
  modelId: 'lenet-mnist',
  images,
  params: { method: 'fgsm', epsilons: [0.1], ...params },
});

function refusal(method: ApiMethodName, input: unknown, labels?: Record<string, string>): string {
  const parsed = apiMethods[method].input.safeParse(input);
  expect(parsed.success).toBe(false);
  return describeInvalidInput(parsed.error!, { input, labels });
}

describe('invalid input in plain words', () => {
  it.each([
    ['attacks.start', attack({}, { kind: 'samples', limit: 0 }), 'Count must be at least 1, got 0'],
    ['attacks.start', attack({}, { kind: 'dataset', path: '' }), 'Dataset path must not be empty'],
    ['attacks.start', attack({}, { kind: 'mnist' }), 'Images must be one of samples, dataset or files, got "mnist"'],
    ['attacks.start', attack({ epsilons: [0.1, 8] }), 'ε must be at most 1, got 8 (ε is in [0,1] pixel units: 8 levels is 8/255 ≈ 0.031)'],
    ['attacks.start', attack({ epsilons: [] }), 'ε needs at least 1 value'],
    ['attacks.start', attack({ epsilons: ['0x10'] }), 'ε must be a number, got "0x10"'],
    ['attacks.start', attack({ method: 'cw' }), 'Method must be one of fgsm, bim, ll, pgd or deepfool, got "cw"'],
    // Bounds that were missing (issue 7 §7): work a typo would make endless, values that overflow.
    ['attacks.start', attack({ method: 'bim', steps: 1e9 }), 'Steps must be at most 10000, got 1000000000'],
    ['attacks.start', attack({ method: 'deepfool', overshoot: 1e308 }), 'Overshoot must be at most 1, got 1e+308'],
    ['attacks.start', attack({ method: 'deepfool', candidates: 1e9 }), 'Candidates must be at most 1000, got 1000000000'],
    ['attacks.start', attack({ stepSize: 0 }), 'Step size must be more than 0, got 0'],
    ['attacks.start', attack({ steps: 2.5 }), 'Steps must be a whole number, got 2.5'],
    ['attacks.start', { ...attack({}), modelId: undefined }, 'Model is required'],
    ['sweeps.start', attack({ epsilons: [1.5] }), 'ε must be at most 1, got 1.5 (ε is in [0,1] pixel units: 8 levels is 8/255 ≈ 0.031)'],
    ['experiments.create', { name: '' }, 'Name must not be empty'],
    ['experiments.create', 'a string', 'The input must be a set of fields, got "a string"'],
    ['experiments.get', { experimentId: '../etc' }, 'Experiment must be an id of letters, digits, ".", "_" or "-", got "../etc"'],
    ['sheets.export', { experimentId: 'e1', runId: 'r1', dpi: 0.01 }, 'PNG dpi must be at least 36, got 0.01'],
    ['sheets.export', { experimentId: 'e1', runId: 'r1', limit: 0 }, 'Images to print must be at least 1, got 0'],
    ['system.info', { sneaky: true }, '"sneaky" is not a field'],
  ] as [ApiMethodName, unknown, string][])('%s %j → %s', (method, input, sentence) => {
    expect(refusal(method, input)).toBe(sentence);
  });

  it('names the CLI flag instead of the screen label when the CLI passes its own names', () => {
    expect(refusal('attacks.start', attack({ method: 'bim', steps: 1e9 }), { 'params.steps': '--steps' })).toBe('--steps must be at most 10000, got 1000000000');
  });

  it('never quotes raw bytes or long text back', () => {
    const message = refusal('experiments.get', { experimentId: '\u0000\u00ff\ufffd binary \u0001' });
    expect(message).toBe('Experiment must be an id of letters, digits, ".", "_" or "-"');
    expect(refusal('experiments.get', { experimentId: 'x'.repeat(500) })).not.toContain('xxxx');
  });

  it('says something short and plain for any payload to any method (fast-check)', () => {
    fc.assert(
      fc.property(fc.constantFrom(...API_METHOD_NAMES), fc.anything(), (method, input) => {
        const parsed = apiMethods[method].input.safeParse(input);
        if (parsed.success) return;
        const message = describeInvalidInput(parsed.error, { input });
        expect(message.length).toBeGreaterThan(5);
        expect(message).not.toMatch(/\n/);
        // zod's own wording never reaches the user.
        expect(message).not.toMatch(/Too small|Too big|Invalid input|expected \w+, received/);
      }),
      { numRuns: 2000 },
    );
  });

  it('suggests the nearest known name for a typo, and nothing for a stranger', () => {
    expect(closestName('lables', ['labels', 'name', 'channels'])).toBe('labels');
    expect(closestName('inputsize', ['inputSize', 'channels'])).toBe('inputSize');
    expect(closestName('zebra', ['labels', 'name', 'channels'])).toBeUndefined();
  });
});
