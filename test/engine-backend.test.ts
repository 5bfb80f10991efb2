import * as tf from '@tensorflow/tfjs';
import { afterEach, describe, expect, it } from 'vitest';
import { BackendError, initBackend } from '../app/node/backend.js';

const savedEnv = process.env.FOOLPRINT_BACKEND;
afterEach(() => {
  if (savedEnv === undefined) delete process.env.FOOLPRINT_BACKEND;
  else process.env.FOOLPRINT_BACKEND = savedEnv;
});

describe('initBackend', () => {
  it('picks WASM with SIMD on one thread when native TensorFlow is absent, with the faster kernels', async () => {
    delete process.env.FOOLPRINT_BACKEND;
    const info = await initBackend();
    expect(info.name).toBe(tf.getBackend());
    expect(info.name).toBe('wasm');
    expect(info.simd).toBe(true);
    expect(info.threads).toBe(1);
    expect(info.notes.join('\n')).toMatch(/tfjs-node\) is not installed/);
    expect(info.notes.join('\n')).toMatch(/Conv2DBackpropInput/);
    // The depthwise input gradient exists on WASM only because we register it.
    expect(tf.getKernel('DepthwiseConv2dNativeBackpropInput', 'wasm')).toBeDefined();
  });

  it('forcing cpu gives cpu, and tf.getBackend() agrees', async () => {
    const info = await initBackend({ prefer: 'cpu' });
    expect(info.name).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
    expect(info.simd).toBeUndefined();
  });

  it('forcing wasm after cpu switches back', async () => {
    await initBackend({ prefer: 'cpu' });
    const info = await initBackend({ prefer: 'wasm' });
    expect(info.name).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    // The backend really computes: a convolution gradient on WASM.
    const g = tf.tidy(() => tf.grad((x: tf.Tensor) => tf.conv2d(x as tf.Tensor4D, tf.ones([3, 3, 1, 2]) as tf.Tensor4D, 1, 'same').sum())(tf.ones([1, 4, 4, 1])));
    // Centre pixels sit under all 9 taps of both output channels: 18; corners under 4 taps: 8.
    const values = Array.from(g.dataSync());
    g.dispose();
    expect(values[5]).toBe(18);
    expect(values[0]).toBe(8);
  });

  it('FOOLPRINT_BACKEND=cpu forces cpu and says why', async () => {
    process.env.FOOLPRINT_BACKEND = 'cpu';
    const info = await initBackend();
    expect(info.name).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
    expect(info.notes.join('\n')).toMatch(/FOOLPRINT_BACKEND=cpu/);
  });

  it('an explicit prefer wins over the environment variable', async () => {
    process.env.FOOLPRINT_BACKEND = 'cpu';
    const info = await initBackend({ prefer: 'wasm' });
    expect(info.name).toBe('wasm');
  });

  it('an unknown FOOLPRINT_BACKEND is ignored with a note', async () => {
    process.env.FOOLPRINT_BACKEND = 'webgpu';
    const info = await initBackend();
    expect(info.name).toBe(tf.getBackend());
    expect(info.notes.join('\n')).toMatch(/'webgpu' is not one of tensorflow, wasm, cpu/);
  });

  it('forcing the unavailable native backend falls back to WASM and says so', async () => {
    process.env.FOOLPRINT_BACKEND = 'tensorflow';
    const info = await initBackend();
    expect(info.name).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(info.notes.join('\n')).toMatch(/forced backend 'tensorflow' is unavailable: using 'wasm'/);
  });

  it('rejects an unknown backend name passed in code', async () => {
    await expect(initBackend({ prefer: 'gpu' as never })).rejects.toThrow(BackendError);
  });
});
