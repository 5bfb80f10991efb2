/**
 * `foolprint serve` as a user runs it: the built binary (npm test builds dist/ first) in a child
 * process prints its URL, answers on loopback only with the token, and stops cleanly on Ctrl-C.
 */
import { spawn, execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '..');
const bin = path.join(root, 'bin/foolprint.js');

describe('foolprint serve', () => {
  it('prints a 127.0.0.1 URL with a token, serves the API with it, refuses without it, and exits 0 on Ctrl-C', async () => {
    const workspace = await mkdtemp(path.join(os.tmpdir(), 'foolprint-serve-'));
    const child = spawn(process.execPath, [bin, 'serve', '--port', '0', '--no-open', '--workspace', workspace], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      let stdout = '';
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no URL printed within 20 s: ${stdout}`)), 20_000);
        child.stdout.on('data', (chunk: Buffer) => {
          stdout += chunk.toString();
          const match = /http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]+/.exec(stdout);
          if (match) {
            clearTimeout(timer);
            resolve(match[0]);
          }
        });
        child.on('exit', (code) => reject(new Error(`serve exited with ${code}: ${stdout}`)));
      });
      const { origin, searchParams } = new URL(url);
      const token = searchParams.get('token')!;
      const call = (headers: Record<string, string>) => fetch(`${origin}/api/system.info`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: '{}' });
      const info = await call({ authorization: `Bearer ${token}` });
      expect(info.status).toBe(200);
      expect(await info.json()).toMatchObject({ host: 'browser', workspaceDir: workspace });
      expect((await call({})).status).toBe(401);
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      child.kill('SIGINT');
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await rm(workspace, { recursive: true, force: true });
    }
  }, 40_000);

  it('rejects a bad --port with one line and exit code 2', async () => {
    const result = await new Promise<{ code: number; stderr: string }>((resolve) => {
      execFile(process.execPath, [bin, 'serve', '--port', 'eighty', '--no-open'], { cwd: root }, (error, _stdout, stderr) => {
        resolve({ code: error ? Number(error.code) : 0, stderr });
      });
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toBe('foolprint: --port must be a port number 0..65535, got "eighty"\n');
  }, 20_000);
});
