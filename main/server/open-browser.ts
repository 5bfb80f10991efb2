/** Opens a URL in the system browser where one exists; says nothing and does nothing where none does. */
import { spawn } from 'node:child_process';

export function openInBrowser(url: string, platform: NodeJS.Platform = process.platform): boolean {
  const [command, args] = platform === 'darwin' ? ['open', [url]] : platform === 'win32' ? ['cmd', ['/c', 'start', '""', url]] : ['xdg-open', [url]];
  try {
    const child = spawn(command, args, { detached: true, stdio: 'ignore' });
    // A missing opener (no desktop, a server) is an 'error' event, not a throw: ignore it, the URL is printed.
    child.on('error', () => undefined);
    child.unref();
    return true;
  } catch {
    return false;
  }
}
