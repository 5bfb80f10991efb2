/**
 * Scratch folders for tests that leave nothing behind in the system's temp folder: each is removed
 * when the test that made it finishes, passed or failed (after its own `finally`, so a child process
 * it waited for has let go of the folder). Call these inside a test, not in a hook or at module level.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { onTestFinished } from 'vitest';

/** Removes `target` (a folder or a file, if it exists) when the current test finishes. */
export function removeAfterTest(target: string): void {
  onTestFinished(() => rmSync(target, { recursive: true, force: true }));
}

/** `mkdtempSync(path.join(tmpdir(), prefix))`, removed when the current test finishes. */
export function tempDirForTest(prefix: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  removeAfterTest(dir);
  return dir;
}
