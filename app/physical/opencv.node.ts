/**
 * OpenCV.js for Node hosts (CLI, main process, tests): loaded with `require`, which plain Node and
 * Vitest both handle in ~0.3 s (an `import()` of the 10 MB file stalls under Vitest's module runner).
 */
import { createRequire } from 'node:module';
import { loadOpenCV } from './opencv.js';
import type { OpenCVRuntime } from './opencv.js';

export function loadOpenCVInNode(): Promise<OpenCVRuntime> {
  return loadOpenCV(() => createRequire(import.meta.url)('@techstark/opencv-js'));
}
