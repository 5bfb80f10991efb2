/**
 * The Python the benchmarks compare against (scripts/torch-peer.py): PyTorch is never a dependency,
 * so it is looked for, and its absence is a one-line reason the benchmark prints and goes on without.
 */
import { spawnSync } from 'node:child_process';

/** A Python that imports torch: FOOLPRINT_PYTHON, else python3 on the PATH; else why not, in one line. */
export function findTorchPython(): { python: string; torch: string } | { missing: string } {
  const python = process.env.FOOLPRINT_PYTHON || 'python3';
  const probe = spawnSync(python, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8', timeout: 300_000 });
  if (probe.status === 0) return { python, torch: probe.stdout.trim() };
  const why = probe.error ? `${python} was not found` : `${python} cannot import torch`;
  return { missing: `PyTorch peer skipped: ${why}; install PyTorch (pip install torch, or Debian's python3-torch) or set FOOLPRINT_PYTHON to a Python that has it` };
}
