/**
 * The Python the benchmarks compare against (scripts/torch-peer.py): PyTorch is never a dependency,
 * so it is looked for, and its absence is a one-line reason the benchmark prints and goes on without.
 */
import { spawnSync } from 'node:child_process';

/**
 * A Python that imports torch: FOOLPRINT_PYTHON if set; else the first of python3 on the PATH and the
 * system's /usr/bin/python3 that has it (a pyenv or venv python3 often shadows the system one that
 * Debian's python3-torch installs into); else why not, in one line.
 */
export function findTorchPython(): { python: string; torch: string } | { missing: string } {
  const candidates = process.env.FOOLPRINT_PYTHON ? [process.env.FOOLPRINT_PYTHON] : ['python3', '/usr/bin/python3'];
  const reasons: string[] = [];
  for (const python of candidates) {
    const probe = spawnSync(python, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8', timeout: 300_000 });
    if (probe.status === 0) return { python, torch: probe.stdout.trim() };
    reasons.push(probe.error ? `${python} was not found` : `${python} cannot import torch`);
  }
  return { missing: `PyTorch peer skipped: ${reasons.join(', ')}; install PyTorch (pip install torch, or Debian's python3-torch) or set FOOLPRINT_PYTHON to a Python that has it` };
}
