/**
 * quantize8bit reads a table of the 256 levels on [0,1] instead of computing round(x·255)/255: it
 * must store the same float32 as the formula for every input, above all next to the rounding
 * boundaries (k + 0.5)/255, where a float64 sum could round up onto the next level.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { quantize8bit } from '../app/attacks/adversarial-view.js';

const formula = (values: Float32Array) => Float32Array.from(values, (x) => Math.round(x * 255) / 255);

/** Indices where two arrays hold different float32 values, telling -0 from +0 (NaN equals NaN). */
function differences(a: Float32Array, b: Float32Array): number[] {
  expect(a.length).toBe(b.length);
  const out: number[] = [];
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) out.push(i);
  return out;
}

/** Every float32 within `ulps` steps either side of `center` (rounded to float32), inside [lo, hi]. */
function neighbours(center: number, ulps: number, lo = -Infinity, hi = Infinity): number[] {
  const bits = new Uint32Array(1);
  const value = new Float32Array(bits.buffer);
  value[0] = center;
  const mid = bits[0];
  const out: number[] = [];
  for (let d = -ulps; d <= ulps; d++) {
    bits[0] = mid + d;
    if (value[0] >= lo && value[0] <= hi) out.push(value[0]);
  }
  return out;
}

describe('quantize8bit', () => {
  it('equals round(x·255)/255 on every float32 within 2,000 steps of each rounding boundary and of 0 and 1', () => {
    const values: number[] = [...neighbours(0, 2000, 0), ...neighbours(1, 2000, -Infinity, 1), 0, -0, 1];
    for (let k = 0; k < 255; k++) values.push(...neighbours((k + 0.5) / 255, 2000));
    const input = Float32Array.from(values);
    expect(differences(quantize8bit(input), formula(input))).toEqual([]);
  });

  it('equals the formula outside [0,1], on ±0, denormals, NaN and infinities', () => {
    const input = Float32Array.from([-0.5, -1e-30, -0, 1e-40, 1.0000001, 1.5, 300, -Infinity, Infinity, NaN]);
    expect(differences(quantize8bit(input), formula(input))).toEqual([]);
    expect(Object.is(quantize8bit(Float32Array.of(-0))[0], -0)).toBe(true);
  });

  it('equals the formula on any float32 (property)', () => {
    fc.assert(
      fc.property(fc.float32Array({ minLength: 1, maxLength: 64 }), (values) => {
        expect(differences(quantize8bit(values), formula(values))).toEqual([]);
      }),
      { numRuns: 500 },
    );
  });

  it('writes into a given array, which may be part of a larger one', () => {
    const input = Float32Array.from([0.1, 0.5, 0.9]);
    const all = new Float32Array(6).fill(7);
    const out = quantize8bit(input, all.subarray(3));
    expect(out.buffer).toBe(all.buffer);
    expect([...all.subarray(0, 3)]).toEqual([7, 7, 7]);
    expect(all.subarray(3)).toEqual(formula(input));
  });
});
