/**
 * Electronegativity (Doyensec's static scanner for Electron apps) on what the Electron app runs:
 * the built main process (dist/main), its sandboxed preload bundle and the page's HTML with the CSP
 * meta tag the build writes. Offline, for the Electron version in package.json; any finding of
 * MEDIUM or above fails, except the ones reviewed below.
 *
 * Run through the package's programmatic entry (dist/runner.js): its CLI (dist/index.js) does not
 * declare its `commander` dependency and crashes on the commander 14 our dependencies hoist.
 */
import { describe, expect, it } from 'vitest';
import { cpSync, mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { withCspMetaTag } from '../main/content-security-policy.js';
import { ensureRendererAndPreload, requireBuilt, root } from './electron-build-fixture.js';

/** The checks left out, one line each with the reason (the CLI's `-x`). */
const EXCLUDED_CHECKS: Record<string, string> = {
  AvailableSecurityFixesGlobalCheck: 'asks GitHub for Electron releases: needs the network, and the installed version is pinned in package-lock.json',
};

/** Findings of MEDIUM or above that were reviewed and stay, each where it is and why. */
const REVIEWED_FINDINGS: { id: string; file: string; why: string }[] = [
  {
    id: 'PRELOAD_JS_CHECK',
    file: 'main/electron/main.js',
    why: 'fires on every preload ("review the use of preload scripts"); the main window\'s is the API bridge: contextBridge exposes only named API functions, no ipcRenderer (main/preload/preload.ts)',
  },
];

interface Finding {
  id: string;
  file: string;
  location: { line: number; column: number };
  severity: { value: number; name: string };
  confidence: { name: string };
  description: string;
  sample?: string;
}
interface ScanResult {
  globalChecks: number;
  atomicChecks: number;
  errors: { file: string; message: string; tolerable: boolean }[];
  issues: Finding[];
}
type Run = (options: { input: string; excludeFromScan: string[]; electronVersionOverride: string; isRelative: boolean; isVerbose?: boolean }) => Promise<ScanResult>;

const MEDIUM = 2;
const run = createRequire(import.meta.url)('@doyensec/electronegativity') as Run;

/** The Electron version package.json asks for ("^45.5.0" → 45.5.0). */
function electronVersion(): string {
  const range = (JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> }).devDependencies.electron;
  const version = /\d+\.\d+\.\d+/.exec(range)?.[0];
  if (!version) throw new Error(`cannot read an Electron version from package.json's "${range}"`);
  return version;
}

function scan(input: string): Promise<ScanResult> {
  return run({ input, excludeFromScan: Object.keys(EXCLUDED_CHECKS), electronVersionOverride: electronVersion(), isRelative: true });
}

const describeFinding = (f: Finding) => `${f.id} (${f.severity.name}, ${f.confidence.name}) at ${f.file} ${f.location.line}:${f.location.column}${f.sample ? `: ${f.sample}` : ''}`;

describe('Electronegativity', () => {
  it('finds nothing of MEDIUM or above in the main process, the preload and the page', async () => {
    requireBuilt('dist/main/electron/main.js', 'main/electron/main.ts');
    await ensureRendererAndPreload();
    // The scanner reads .js/.html only and names files relative to its input: stage what the app runs.
    const stage = mkdtempSync(path.join(tmpdir(), 'fp-electronegativity-'));
    try {
      cpSync(path.join(root, 'dist/main'), path.join(stage, 'main'), { recursive: true, filter: (file) => !file.endsWith('.map') });
      cpSync(path.join(root, 'dist/main/preload/preload.cjs'), path.join(stage, 'main/preload/preload-bundle.js'));
      mkdirSync(path.join(stage, 'renderer'));
      writeFileSync(path.join(stage, 'renderer/index.html'), withCspMetaTag(readFileSync(path.join(root, 'renderer/index.html'), 'utf8')));

      const result = await scan(stage);
      expect(result.errors.map((e) => `${e.file}: ${e.message}`)).toEqual([]);
      expect(result.atomicChecks).toBeGreaterThanOrEqual(30);
      const serious = result.issues.filter((f) => f.severity.value >= MEDIUM);
      const unreviewed = serious.filter((f) => !REVIEWED_FINDINGS.some((r) => r.id === f.id && r.file === f.file));
      expect(unreviewed.map(describeFinding)).toEqual([]);
      // Each reviewed finding still occurs exactly once: a second preload would be a new finding.
      for (const reviewed of REVIEWED_FINDINGS) expect(serious.filter((f) => f.id === reviewed.id && f.file === reviewed.file)).toHaveLength(1);
      // The page's CSP is seen (no CSP at all is a MEDIUM CSP_GLOBAL_CHECK finding, caught above).
      expect(result.issues.some((f) => f.id === 'CSP_GLOBAL_CHECK' && f.file === 'N/A')).toBe(false);
    } finally {
      rmSync(stage, { recursive: true, force: true });
    }
  });

  it('does report what it should: a window without isolation or sandbox, and no CSP', async () => {
    const stage = mkdtempSync(path.join(tmpdir(), 'fp-electronegativity-bad-'));
    try {
      writeFileSync(
        path.join(stage, 'main.js'),
        "import { BrowserWindow } from 'electron';\nconst options = { webPreferences: { nodeIntegration: true } };\nexport const window = new BrowserWindow({ ...options });\n",
      );
      const ids = (await scan(stage)).issues.filter((f) => f.severity.value >= MEDIUM).map((f) => f.id);
      expect(ids).toEqual(expect.arrayContaining(['CONTEXT_ISOLATION_JS_CHECK', 'SANDBOX_JS_CHECK', 'AUXCLICK_JS_CHECK', 'CSP_GLOBAL_CHECK']));
    } finally {
      rmSync(stage, { recursive: true, force: true });
    }
  });
});
