/** Deterministic pseudo-random test values (an LCG), so every run of a kernel table checks the same numbers. */
export function seededValues(size: number, seed: number, scale = 1): Float32Array {
  const out = new Float32Array(size);
  let s = seed >>> 0;
  for (let i = 0; i < size; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = ((s / 2 ** 32) * 2 - 1) * scale;
  }
  return out;
}

/** Number of elements of a tensor of this shape. */
export const elementCount = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);
