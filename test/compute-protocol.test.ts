import { describe, expect, it } from 'vitest';
import { MIN_TRANSFER_BYTES, transferablesOf } from '../app/node/compute-protocol.js';

describe('transferablesOf', () => {
  it('lists each large buffer once, wherever it is nested, and leaves small ones to be copied', () => {
    const big = new Float32Array(MIN_TRANSFER_BYTES / 4);
    const alsoBig = new Uint8Array(MIN_TRANSFER_BYTES);
    const small = new Int32Array(5);
    const message = {
      images: big,
      view: new Float32Array(big.buffer, 8, 4), // a view into `big`: the same buffer
      parts: [{ labels: small, probs: new Float32Array(MIN_TRANSFER_BYTES / 4 - 1) }, alsoBig],
      text: 'x',
      none: null,
    };
    const found = transferablesOf(message);
    expect(found).toHaveLength(2);
    expect(found).toContain(big.buffer);
    expect(found).toContain(alsoBig.buffer);
    expect(found).not.toContain(small.buffer);
  });

  it('a message of small arrays only is copied whole', () => {
    expect(transferablesOf({ labels: new Int32Array(1), probs: [new Float32Array(10)] })).toEqual([]);
  });
});
