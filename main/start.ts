/**
 * `npm start` (dist/main/start.js): builds what is missing or stale (the sandboxed preload bundle,
 * the Svelte renderer), then opens the Electron window. Where Electron cannot run (its binary was
 * never downloaded, as on offline machines; no display), it says so in one line and serves browser
 * mode instead: the URL is printed and the system browser opened where there is one.
 *
 *   node dist/main/start.js [--browser | --electron] [--no-open] [--no-build | --build-only] [--port N] [--workspace DIR]
 *
 * The decisions (arguments, is Electron's binary there, which mode, how to open a browser) are pure
 * functions, tested without Electron.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RunningServer } from './server/server.js';

export class StartError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StartError';
  }
}

export interface StartOptions {
  mode: 'auto' | 'browser' | 'electron';
  open: boolean;
  build: boolean;
  /** Build what is stale (preload bundle, renderer) and stop: `npm run dist` runs this before electron-builder. */
  buildOnly: boolean;
  port?: number;
  workspaceDir?: string;
}

export const START_USAGE = 'usage: npm start -- [--browser | --electron] [--no-open] [--no-build | --build-only] [--port N] [--workspace DIR]';

export function parseStartArgs(argv: readonly string[]): StartOptions {
  const options: StartOptions = { mode: 'auto', open: true, build: true, buildOnly: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      const next = argv[++i];
      if (next === undefined || next.startsWith('--')) throw new StartError(`${arg} needs a value; ${START_USAGE}`);
      return next;
    };
    if (arg === '--browser' || arg === '--electron') {
      if (options.mode !== 'auto') throw new StartError(`choose one of --browser and --electron; ${START_USAGE}`);
      options.mode = arg === '--browser' ? 'browser' : 'electron';
    } else if (arg === '--no-open') options.open = false;
    else if (arg === '--no-build') options.build = false;
    else if (arg === '--build-only') options.buildOnly = true;
    else if (arg === '--port') {
      const port = Number(value());
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new StartError(`--port must be a whole number from 0 to 65535, not "${argv[i]}"`);
      options.port = port;
    } else if (arg === '--workspace') options.workspaceDir = path.resolve(value());
    else throw new StartError(`unknown option "${arg}"; ${START_USAGE}`);
  }
  if (options.buildOnly && !options.build) throw new StartError(`--build-only and --no-build contradict each other; ${START_USAGE}`);
  return options;
}

export type ElectronBinaryStatus = { available: true; binary: string } | { available: false; reason: string };

/**
 * Where the `electron` package's binary is, without running the package (node_modules/electron/
 * index.js downloads the binary when it is missing, which hangs or fails with "fetch failed" offline).
 * Mirrors that file's lookup: path.txt names the executable inside dist/, or inside
 * ELECTRON_OVERRIDE_DIST_PATH when set.
 */
export function electronBinaryStatus(
  electronDir: string | null,
  env: NodeJS.ProcessEnv = process.env,
  fs: { exists(file: string): boolean; readText(file: string): string } = { exists: existsSync, readText: (file) => readFileSync(file, 'utf8') },
): ElectronBinaryStatus {
  if (electronDir === null) return { available: false, reason: 'the electron package is not installed' };
  const pathFile = path.join(electronDir, 'path.txt');
  const executable = fs.exists(pathFile) ? fs.readText(pathFile).trim() : '';
  if (env.ELECTRON_OVERRIDE_DIST_PATH) {
    const binary = path.join(env.ELECTRON_OVERRIDE_DIST_PATH, executable || 'electron');
    return fs.exists(binary) ? { available: true, binary } : { available: false, reason: `ELECTRON_OVERRIDE_DIST_PATH has no ${binary}` };
  }
  if (!executable) return { available: false, reason: 'it was never downloaded: node_modules/electron/path.txt is missing' };
  const binary = path.join(electronDir, 'dist', executable);
  return fs.exists(binary) ? { available: true, binary } : { available: false, reason: `${binary} is missing` };
}

/** The installed electron package's folder, or null; resolves package.json only, never index.js. */
export function findElectronPackage(from: string = import.meta.url): string | null {
  try {
    return path.dirname(createRequire(from).resolve('electron/package.json'));
  } catch {
    return null;
  }
}

export type StartDecision = { mode: 'electron'; binary: string } | { mode: 'browser'; notice: string | null };

/** Electron when asked for or possible; browser mode otherwise, with the one line that says why. */
export function chooseStartMode(requested: StartOptions['mode'], electron: ElectronBinaryStatus, platform: NodeJS.Platform = process.platform, env: NodeJS.ProcessEnv = process.env): StartDecision {
  if (requested === 'browser') return { mode: 'browser', notice: null };
  const noDisplay = platform === 'linux' && !env.DISPLAY && !env.WAYLAND_DISPLAY;
  if (requested === 'electron') {
    if (!electron.available) throw new StartError(`cannot open the Electron window: Electron's binary is not available (${electron.reason})`);
    return { mode: 'electron', binary: electron.binary };
  }
  if (!electron.available) return { mode: 'browser', notice: `Electron's binary is not available (${electron.reason}); serving browser mode instead.` };
  if (noDisplay) return { mode: 'browser', notice: 'no display for a window (DISPLAY and WAYLAND_DISPLAY are unset); serving browser mode instead.' };
  return { mode: 'electron', binary: electron.binary };
}

/** The command that opens a URL in the system browser, per platform. */
export function browserOpenCommand(platform: NodeJS.Platform, url: string): { command: string; args: string[] } {
  if (platform === 'darwin') return { command: 'open', args: [url] };
  // `start` is a cmd built-in; its first quoted argument is the window title, hence the "".
  if (platform === 'win32') return { command: 'cmd', args: ['/d', '/s', '/c', 'start', '""', url.replace(/&/g, '^&')] };
  return { command: 'xdg-open', args: [url] };
}

/** Newest modification time of the files under the given paths (folders walked), 0 if none. */
export function newestMtime(paths: readonly string[], skip: (file: string) => boolean = () => false): number {
  let newest = 0;
  for (const entry of paths) {
    if (!existsSync(entry) || skip(entry)) continue;
    const info = statSync(entry);
    if (info.isDirectory()) {
      for (const child of readdirSync(entry)) newest = Math.max(newest, newestMtime([path.join(entry, child)], skip));
    } else newest = Math.max(newest, info.mtimeMs);
  }
  return newest;
}

/** True when `output` is missing or older than any of `inputs`. */
export function isStale(output: string, inputs: readonly string[]): boolean {
  if (!existsSync(output)) return true;
  return newestMtime(inputs, (file) => /(^|[\\/])(node_modules|dist)$/.test(file)) > statSync(output).mtimeMs;
}

function projectRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new StartError(`cannot find the Foolprint folder above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
  return dir;
}

const say = (line: string) => console.log(`foolprint: ${line}`);

/**
 * Builds the preload bundle and the renderer when their sources are newer than the outputs, one
 * process at a time: two at once (two `npm start`, or test files in parallel on a fresh clone) each
 * emptied renderer/dist while the other wrote or served it (a test was answered 503 for the page).
 * The one that waited finds the outputs fresh and builds nothing.
 */
async function buildWhatIsNeeded(root: string): Promise<void> {
  const release = await takeBuildLock(root);
  try {
    await buildStale(root);
  } finally {
    await release();
  }
}

/** The workspace lock's O_EXCL file (a crashed holder's is taken over), waited for while another build holds it. */
async function takeBuildLock(root: string): Promise<() => Promise<void>> {
  const { WorkspaceLockedError, acquireWorkspaceLock } = await import('../app/node/workspace-lock.js');
  let told = false;
  for (;;) {
    try {
      return (await acquireWorkspaceLock(path.join(root, 'node_modules', '.cache', 'foolprint-build'), 'foolprint build')).release;
    } catch (error) {
      if (!(error instanceof WorkspaceLockedError)) throw error;
      if (!told) say('waiting for another build of the preload and renderer to finish');
      told = true;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}

async function buildStale(root: string): Promise<void> {
  const preloadInputs = [path.join(root, 'main/preload'), path.join(root, 'app/api')];
  const { bundlePreload, preloadOutput } = await import('./preload/bundle.js');
  if (existsSync(path.join(root, 'main/preload/preload.ts')) && isStale(preloadOutput(root), preloadInputs)) {
    say('bundling the preload');
    await bundlePreload(root);
  }
  const rendererConfig = path.join(root, 'renderer/vite.config.ts');
  // The config writes the page's CSP meta tag from main/content-security-policy.ts.
  const rendererInputs = [path.join(root, 'renderer/src'), path.join(root, 'renderer/index.html'), rendererConfig, path.join(root, 'main/content-security-policy.ts'), path.join(root, 'app')];
  if (existsSync(rendererConfig) && isStale(path.join(root, 'renderer/dist/index.html'), rendererInputs)) {
    say('building the renderer (vite)');
    const { build } = await import('vite');
    await build({ configFile: rendererConfig, logLevel: 'warn' });
  }
}

/** Open the URL in the system browser if there is one; never fails (no browser, no display: the URL is printed anyway). */
function openInBrowser(url: string): void {
  const { command, args } = browserOpenCommand(process.platform, url);
  try {
    const child = spawn(command, args, { stdio: 'ignore', detached: true, windowsHide: true });
    child.on('error', () => say(`no system browser to open (${command} not found): open the URL above yourself`));
    child.unref();
  } catch {
    // spawn can throw synchronously on odd platforms; the URL is already printed.
  }
}

async function serveBrowserMode(options: StartOptions, root: string): Promise<void> {
  const { startServer } = await import('./server/server.js');
  const { defaultWorkspaceDir } = await import('../app/node/experiment-store.js');
  const server: RunningServer = await startServer({
    workspaceDir: options.workspaceDir ?? defaultWorkspaceDir(),
    port: options.port ?? 0,
    rendererDir: path.join(root, 'renderer/dist'),
  });
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    server.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  // Taken before the URL is printed: whoever reads it may press Ctrl-C at once (see serve.ts).
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  say(`browser mode at ${server.url}`);
  say('press Ctrl-C to stop');
  if (options.open) openInBrowser(server.url);
}

/**
 * Run the Electron window. Resolves true when Electron ran; false when it could not start at all
 * (spawn error, or it died within a few seconds: missing system libraries on a server), so the caller
 * falls back to browser mode.
 */
function runElectron(binary: string, root: string, options: StartOptions): Promise<boolean> {
  return new Promise((resolve) => {
    const env = { ...process.env };
    delete env.ELECTRON_RUN_AS_NODE;
    const args = [path.join(root, 'dist/main/electron/main.js'), ...(options.workspaceDir ? ['--workspace', options.workspaceDir] : [])];
    const startedAt = Date.now();
    const child = spawn(binary, args, { stdio: ['ignore', 'inherit', 'pipe'], env });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      process.stderr.write(chunk);
    });
    child.on('error', (error) => {
      say(`Electron could not start (${error.message}); serving browser mode instead.`);
      resolve(false);
    });
    child.on('exit', (code, signal) => {
      if (code !== 0 && signal === null && Date.now() - startedAt < 5000) {
        const reason = stderr.trim().split('\n').at(-1) || `exit code ${code}`;
        say(`Electron stopped at once (${reason}); serving browser mode instead.`);
        resolve(false);
        return;
      }
      process.exitCode = code ?? 0;
      resolve(true);
    });
    const forward = (signal: NodeJS.Signals) => () => child.kill(signal);
    process.on('SIGINT', forward('SIGINT'));
    process.on('SIGTERM', forward('SIGTERM'));
  });
}

export async function start(argv: readonly string[]): Promise<void> {
  const options = parseStartArgs(argv);
  const root = projectRoot();
  if (options.build) await buildWhatIsNeeded(root);
  if (options.buildOnly) return;
  const decision = chooseStartMode(options.mode, electronBinaryStatus(findElectronPackage()));
  if (decision.mode === 'electron' && (await runElectron(decision.binary, root, options))) return;
  if (decision.mode === 'browser' && decision.notice) say(decision.notice);
  await serveBrowserMode(options, root);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  start(process.argv.slice(2)).catch((error: Error) => {
    console.error(`foolprint: ${error.message.split('\n')[0]}`);
    process.exit(1);
  });
}
