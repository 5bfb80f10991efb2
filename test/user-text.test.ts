/**
 * What a user reads speaks of the user's own files: the development machines' `../shared` folder
 * (MNIST, the old PyTorch peer) exists on no user's machine, so neither the README, nor any
 * command's --help, nor the demo's "next steps" may point into it.
 */
import { describe, expect, it } from 'vitest';
import { foolprint, root } from './cli-harness.js';
import { readFileSync } from 'node:fs';
import path from 'node:path';

const DEV_FOLDER = '../shared';

/** Command names as the top-level --help lists them ("  name [options]  description"). */
function commandsOf(help: string): string[] {
  const section = help.split(/^Commands:$/m)[1] ?? '';
  return [...section.matchAll(/^ {2}([a-z][a-z-]*)\b/gm)].map((m) => m[1]).filter((name) => name !== 'help');
}

describe('user-facing text names no development folder', () => {
  it('README.md', () => {
    expect(readFileSync(path.join(root, 'README.md'), 'utf8')).not.toContain(DEV_FOLDER);
  });

  it('--help of foolprint and of every command', async () => {
    const top = await foolprint('--help');
    expect(top.code).toBe(0);
    expect(top.stdout).not.toContain(DEV_FOLDER);
    const commands = commandsOf(top.stdout);
    // The list is read from the help itself; a parse that found nothing would make this test vacuous.
    expect(commands).toEqual(expect.arrayContaining(['models', 'eval', 'attack', 'sweep', 'sheet', 'analyze', 'demo']));
    for (const command of commands) {
      const run = await foolprint(command, '--help');
      expect(run.code, command).toBe(0);
      expect(run.stdout, command).toContain(`Usage: foolprint ${command}`);
      expect(run.stdout + run.stderr, command).not.toContain(DEV_FOLDER);
    }
  }, 120_000);

  it("demo's output, and its next step tells where the MNIST test set comes from", async () => {
    const run = await foolprint('demo');
    expect(run.code).toBe(0);
    expect(run.stdout + run.stderr).not.toContain(DEV_FOLDER);
    expect(run.stdout).toMatch(/foolprint sweep --data \S+ --method fgsm/);
    expect(run.stdout).toContain('t10k-images-idx3-ubyte');
  }, 180_000);
});
