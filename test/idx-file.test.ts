/**
 * The IDX reader a user's files go through (issue 7, item 4): the pure parser and the streaming file
 * reader, on hand-picked damage and on fast-check's random headers, bodies and truncations: either
 * the right values or a one-line DatasetError, never another exception or a hang.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatasetError } from '../app/data/errors.js';
import { encodeIdxUint8, MAX_IDX_BYTES, parseIdx } from '../app/data/idx.js';
import { readIdxRange } from '../app/node/idx-file.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'foolprint-idx-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** The outcome of a parse: values, or a DatasetError's one-line message; anything else fails the test. */
async function outcome<T>(work: () => T | Promise<T>): Promise<{ value: T } | { error: string }> {
  try {
    return { value: await work() };
  } catch (error) {
    if (!(error instanceof DatasetError)) throw error;
    expect(error.message).not.toContain('\n');
    return { error: error.message };
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return Promise.race([promise, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`no answer in ${ms} ms (a hang)`)), ms))]);
}

/** A small unsigned-byte IDX: dims of 1-3 dimensions, values from a seed. */
const smallIdx = fc
  .record({ dims: fc.array(fc.integer({ min: 0, max: 6 }), { minLength: 1, maxLength: 3 }), seed: fc.integer({ min: 0, max: 255 }) })
  .map(({ dims, seed }) => {
    const count = dims.reduce((a, b) => a * b, 1);
    const values = Uint8Array.from({ length: count }, (_, i) => (seed + i * 37) & 255);
    return { dims, values, bytes: encodeIdxUint8(dims, values) };
  });

type Damage = { kind: 'none' } | { kind: 'cut'; at: number } | { kind: 'append'; extra: Uint8Array } | { kind: 'flip'; at: number; value: number };

/** Damage to a file: none, cut at a fraction of its length, bytes appended, or one byte changed. */
const damage: fc.Arbitrary<Damage> = fc.oneof(
  fc.constant({ kind: 'none' as const }),
  fc.record({ kind: fc.constant('cut' as const), at: fc.double({ min: 0, max: 1, noNaN: true }) }),
  fc.record({ kind: fc.constant('append' as const), extra: fc.uint8Array({ minLength: 1, maxLength: 20 }) }),
  fc.record({ kind: fc.constant('flip' as const), at: fc.double({ min: 0, max: 1, noNaN: true }), value: fc.integer({ min: 0, max: 255 }) }),
);

function damaged(bytes: Uint8Array, d: Damage): Uint8Array {
  if (d.kind === 'cut') return bytes.slice(0, Math.floor(d.at * bytes.length));
  if (d.kind === 'append') return Uint8Array.from([...bytes, ...d.extra]);
  if (d.kind === 'flip' && bytes.length > 0) {
    const copy = bytes.slice();
    copy[Math.min(bytes.length - 1, Math.floor(d.at * bytes.length))] = d.value;
    return copy;
  }
  return bytes;
}

describe('parseIdx', () => {
  it('parses what it is given or says what is wrong, for random bytes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 64 }), fc.boolean(), async (body, idxLike) => {
        // Half the cases start like IDX so the parser gets past its magic.
        const bytes = idxLike && body.length >= 4 ? Uint8Array.from([0, 0, ...body.slice(2)]) : body;
        const result = await outcome(() => parseIdx(bytes));
        if ('value' in result) {
          const count = result.value.dims.reduce((a, b) => a * b, 1);
          expect(result.value.data.length).toBe(count);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('round-trips valid files and refuses damaged ones', async () => {
    await fc.assert(
      fc.asyncProperty(smallIdx, damage, async (idx, d) => {
        const bytes = damaged(idx.bytes, d);
        const result = await outcome(() => parseIdx(bytes));
        const same = bytes.length === idx.bytes.length && bytes.every((b, i) => b === idx.bytes[i]);
        if (same) {
          expect('value' in result).toBe(true);
          if ('value' in result) {
            expect(result.value.dims).toEqual(idx.dims);
            expect(Array.from(result.value.data)).toEqual(Array.from(idx.values));
          }
        } else if ('value' in result) {
          // A changed value byte is still a valid file: it must parse to exactly those bytes.
          expect(result.value.data.length).toBe(result.value.dims.reduce((a, b) => a * b, 1));
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('refuses a header that asks for more than the cap without allocating it', () => {
    const header = Uint8Array.from([0, 0, 0x08, 3, 0x10, 0, 0, 0, 0, 0, 0, 28, 0, 0, 0, 28]);
    expect(() => parseIdx(header)).toThrow(new RegExp(`above the ${MAX_IDX_BYTES / 1024 ** 3}\\.0 GiB`));
  });
});

describe('readIdxRange', () => {
  it('reads any window of a raw or gzipped file, equal to the same slice of the values', async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(smallIdx, fc.boolean(), fc.nat(8), fc.option(fc.integer({ min: 0, max: 8 })), async (idx, gzip, first, count) => {
        const file = path.join(root, `ok-${n++}`);
        await writeFile(file, gzip ? gzipSync(idx.bytes) : idx.bytes);
        const result = await outcome(() => withTimeout(readIdxRange(file, first, count ?? undefined), 5000));
        const items = idx.dims[0];
        if (first > 0 && first >= items) {
          expect(result).toEqual({ error: expect.stringMatching(/offset .* is beyond/) });
          return;
        }
        expect('value' in result).toBe(true);
        if (!('value' in result)) return;
        const itemBytes = idx.dims.slice(1).reduce((a, b) => a * b, 1);
        const end = Math.min(items, first + (count ?? items));
        expect(result.value.header.dims).toEqual(idx.dims);
        expect(Array.from(result.value.bytes)).toEqual(Array.from(idx.values.slice(first * itemBytes, end * itemBytes)));
      }),
      { numRuns: 150 },
    );
  });

  it('returns the right bytes or a clear error for damaged files, never hangs', async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(smallIdx, damage, fc.boolean(), fc.boolean(), async (idx, d, gzip, whole) => {
        const file = path.join(root, `bad-${n++}`);
        // Damage the file as stored: a gzip stream cut short, with garbage after it, or a changed byte.
        await writeFile(file, damaged(gzip ? gzipSync(idx.bytes) : idx.bytes, d));
        const result = await outcome(() => withTimeout(readIdxRange(file, 0, whole ? undefined : 1), 5000));
        if ('value' in result && d.kind !== 'flip') {
          const itemBytes = idx.dims.slice(1).reduce((a, b) => a * b, 1);
          expect(Array.from(result.value.bytes)).toEqual(Array.from(idx.values.slice(0, result.value.count * itemBytes)));
        }
      }),
      { numRuns: 200 },
    );
  });

  it.each<[string, () => Uint8Array | 'cut', boolean, RegExp]>([
    ['a raw file longer than its header says', () => Uint8Array.from([...encodeIdxUint8([2, 2], Uint8Array.of(1, 2, 3, 4)), 9]), false, /does not match its header: dimensions 2x2 of unsigned byte need 16 bytes \(16 bytes\), the file has 17/],
    ['a raw file cut short', () => encodeIdxUint8([2, 2], Uint8Array.of(1, 2, 3, 4)).slice(0, 14), false, /need 16 bytes .*the file has 14/],
    ['a gzip file whose trailer disagrees with the header', () => encodeIdxUint8([3, 2], Uint8Array.of(1, 2, 3, 4, 5, 6)).slice(0, 12), true, /does not match its header: .*need 18 bytes .*expands to 12 bytes/],
    ['a gzip file cut short', () => 'cut', true, /does not match its header|damaged gzip/],
    ['not IDX at all', () => Uint8Array.from(Buffer.from('hello, world')), false, /is not an IDX file/],
  ])('%s', async (_, make, gzip, pattern) => {
    const file = path.join(root, 'case');
    const made = make();
    const bytes = made === 'cut' ? gzipSync(encodeIdxUint8([50, 10], Uint8Array.from({ length: 500 }, (_v, i) => i * 7))).subarray(0, 30) : gzip ? gzipSync(made) : made;
    await writeFile(file, bytes);
    const result = await outcome(() => readIdxRange(file, 0, 1));
    expect(result).toEqual({ error: expect.stringMatching(pattern) });
  });
});
