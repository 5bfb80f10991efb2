/**
 * The CLI as a user runs it, for the tests that run it: the built `foolprint` binary (bin/foolprint.js,
 * so dist/ must be built) in a child process started in the repository, with FOOLPRINT_DEBUG off so
 * errors are the one-line ones users see.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const bin = path.join(root, 'bin/foolprint.js');

/** Runs `foolprint ...args` to its end: its exit code (1 when killed by a signal), stdout and stderr. */
export function foolprint(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { cwd: root, env: { ...process.env, FOOLPRINT_DEBUG: '' } }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}
