/**
 * A progress bar on stderr, shown only where a person watches: a TTY, and not with --json (whose
 * stdout is for machines). Hand-written: a dozen lines, and the bar libraries on npm pull in
 * terminal-detection dependencies we do not need.
 */
export interface ProgressBar {
  update(done: number, total: number, label?: string): void;
  done(): void;
}

export function createProgressBar(options: { json?: boolean; stream?: NodeJS.WriteStream } = {}): ProgressBar {
  const stream = options.stream ?? process.stderr;
  const visible = !options.json && stream.isTTY === true;
  let lastDraw = 0;
  let drawn = false;
  return {
    update(done, total, label = '') {
      if (!visible) return;
      const now = Date.now();
      if (now - lastDraw < 80 && done < total) return;
      lastDraw = now;
      const fraction = total > 0 ? Math.min(1, done / total) : 0;
      const width = 28;
      const filled = Math.round(fraction * width);
      const bar = '█'.repeat(filled) + '░'.repeat(width - filled);
      stream.write(`\r${bar} ${(fraction * 100).toFixed(0).padStart(3)}% ${label}`.slice(0, (stream.columns ?? 100) - 1) + '\x1b[K');
      drawn = true;
    },
    done() {
      if (visible && drawn) stream.write('\r\x1b[K');
      drawn = false;
    },
  };
}
