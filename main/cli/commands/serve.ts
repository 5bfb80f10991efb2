/**
 * `foolprint serve`: browser mode. The same UI and API as the desktop app on 127.0.0.1, guarded like
 * Jupyter (token in the printed URL, then a cookie; Host and Origin checks). See main/server/.
 */
import type { Command } from 'commander';
import { UsageError, guarded, interruptSignal } from '../failure.js';
import { workerCountFromFlag } from '../workbench.js';

export interface ServeFlags {
  port?: string;
  host?: string;
  workspace?: string;
  open: boolean;
  backend?: string;
  workers?: string;
}

export const DEFAULT_SERVE_PORT = 8765;

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('browser mode: serve the app and its API on 127.0.0.1 and print the URL to open (with its access token)')
    .option('--port <n>', `port (default ${DEFAULT_SERVE_PORT}, or a free one when that is taken)`)
    .option('--host <address>', 'interface to bind (default 127.0.0.1; anything else exposes the lab to that network)')
    .option('--workspace <dir>', 'experiment folder (default: FOOLPRINT_WORKSPACE, Documents/Foolprint or the app-data folder)')
    .option('--no-open', 'do not open the system browser')
    .option('--backend <name>', 'force a TF.js backend: tensorflow, wasm or cpu (also FOOLPRINT_BACKEND)')
    .option('--workers <n>', 'worker threads per model')
    .action(guarded(async (flags: ServeFlags) => {
      await serve(flags);
    }));
}

export async function serve(flags: ServeFlags): Promise<void> {
  // Checked before the imports below: a mistyped port is answered at once, not after loading TF.js.
  const port = flags.port === undefined ? undefined : Number(flags.port);
  if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port <= 65535)) throw new UsageError(`--port must be a port number 0..65535, got "${flags.port}"`);
  // Imported here, not at the top: the server and TF.js would slow every other command's start-up.
  const [{ defaultWorkspaceDir }, { isBackendName }, { startServer }, { openInBrowser }] = await Promise.all([
    import('../../../app/node/experiment-store.js'),
    import('../../../app/node/backend.js'),
    import('../../server/server.js'),
    import('../../server/open-browser.js'),
  ]);
  if (flags.backend !== undefined && !isBackendName(flags.backend)) throw new UsageError(`--backend must be tensorflow, wasm or cpu, got "${flags.backend}"`);
  const common = {
    host: flags.host,
    workspaceDir: flags.workspace ?? defaultWorkspaceDir(),
    backend: flags.backend as 'tensorflow' | 'wasm' | 'cpu' | undefined,
    workers: workerCountFromFlag(flags.workers),
  };
  // Ctrl-C is taken from here on, before the server starts and its URL is printed (see
  // interruptSignal): a Ctrl-C while it starts stops it as soon as it is up, lock released.
  const interrupted = interruptSignal();
  const stopped = new Promise<void>((resolve) => {
    interrupted.addEventListener('abort', () => resolve(), { once: true });
    process.once('SIGTERM', () => resolve());
  });
  // The default port may be taken by another copy; an explicit --port is respected or fails.
  const server = await startServer({ ...common, port: port ?? DEFAULT_SERVE_PORT }).catch((error: unknown) => {
    if (port === undefined) return startServer({ ...common, port: 0 });
    throw error;
  });
  if (!['127.0.0.1', 'localhost', '::1'].includes(server.host)) {
    process.stderr.write(`foolprint: warning: listening on ${server.host}, reachable from that network; the token is the only guard\n`);
  }
  process.stdout.write(`Foolprint is running in browser mode. Open:\n  ${server.url}\nworkspace: ${common.workspaceDir}\nPress Ctrl-C to stop.\n`);
  if (flags.open) openInBrowser(server.url);
  await stopped;
  process.stdout.write('foolprint: stopping…\n');
  await server.close().catch(() => undefined);
}
