/**
 * npm run bench (after bench.ts and bench-physical.ts) [-- --quick] [-- --json]
 *
 * Server API latency while a large dataset loads (issue 7, item 4): the browser-mode server on a
 * fresh workspace, a 1.9 M-image blank MNIST IDX gz (1.5 MB compressed, 1.5 GB expanded, written by
 * scripts/blank-idx.ts), and samples.list asking for its last image (the whole file inflated on the
 * dataset worker) while another client calls jobs.list every 20 ms. Reports the load's time and the
 * other calls' median and max latency, next to the same calls on an idle server. Also the live view's
 * classifyCrops (24 float32 crops) on the idle server against its 66 ms frame budget (15 frames/s).
 * On a shared machine the figures are noisy.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createApiClient, createHttpTransport } from '../app/api/index.js';
import type { FetchLike, FoolprintApi } from '../app/api/index.js';
import { startServer } from '../main/server/server.js';
import { writeBlankMnist } from './blank-idx.js';

const quick = process.argv.includes('--quick');
const asJson = process.argv.includes('--json');
const IMAGES = quick ? 475_000 : 1_900_000;

function stats(samples: number[]): { count: number; medianMs: number; maxMs: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  return { count: sorted.length, medianMs: sorted[Math.floor(sorted.length / 2)] ?? NaN, maxMs: sorted[sorted.length - 1] ?? NaN };
}

/** jobs.list latencies, one call every 20 ms, until `until` settles (or `calls` calls). */
async function ping(api: FoolprintApi, until: { done: boolean } | number): Promise<number[]> {
  const latencies: number[] = [];
  while (typeof until === 'number' ? latencies.length < until : !until.done) {
    const asked = performance.now();
    await api.jobs.list();
    latencies.push(performance.now() - asked);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return latencies;
}

const dir = await mkdtemp(path.join(os.tmpdir(), 'foolprint-bench-server-'));
try {
  const data = path.join(dir, 'big');
  await mkdir(data);
  const written = await writeBlankMnist(data, IMAGES);
  const server = await startServer({ workspaceDir: path.join(dir, 'workspace'), port: 0, workers: 1 });
  const transport = createHttpTransport({ baseUrl: server.origin, fetch: globalThis.fetch as unknown as FetchLike, headers: { authorization: `Bearer ${server.token}` } });
  const api = createApiClient(transport);
  try {
    await api.jobs.list(); // the first call opens the connection
    const idle = stats(await ping(api, 50));
    const crops = Buffer.from(new Float32Array(24 * 784).fill(0.5).buffer).toString('base64');
    await api.capture.classifyCrops({ modelId: 'lenet-mnist', crops, count: 24, height: 28, width: 28, channels: 1 }); // loads the model
    const cropTimes: number[] = [];
    for (let i = 0; i < 20; i++) {
      const asked = performance.now();
      await api.capture.classifyCrops({ modelId: 'lenet-mnist', crops, count: 24, height: 28, width: 28, channels: 1 });
      cropTimes.push(performance.now() - asked);
    }
    const classifyCrops = { ...stats(cropTimes), fastestMs: Math.min(...cropTimes), budgetMs: 66 };
    let started = performance.now();
    await api.samples.list({ modelId: 'lenet-mnist', images: { kind: 'dataset', path: data }, limit: 1 });
    const firstImageMs = performance.now() - started;
    const state = { done: false };
    started = performance.now();
    const last = api.samples.list({ modelId: 'lenet-mnist', images: { kind: 'dataset', path: data, offset: IMAGES - 1 }, limit: 1 }).finally(() => (state.done = true));
    const during = stats(await ping(api, state));
    await last;
    const lastImageMs = performance.now() - started;
    const report = {
      dataset: { images: IMAGES, compressedBytes: written.compressedBytes, expandedBytes: written.expandedBytes },
      firstImageMs,
      lastImageMs,
      idle,
      duringLoad: during,
      classifyCrops,
    };
    if (asJson) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
    else {
      const mb = (bytes: number) => (bytes / 1e6).toFixed(1);
      process.stdout.write(`\nServer API latency while a large dataset loads (${IMAGES} blank MNIST images, ${mb(written.compressedBytes)} MB gz, ${mb(written.expandedBytes)} MB expanded)\n`);
      process.stdout.write(`  samples.list, first image: ${firstImageMs.toFixed(0)} ms; last image (whole file inflated): ${lastImageMs.toFixed(0)} ms\n`);
      process.stdout.write(`  jobs.list idle:             median ${idle.medianMs.toFixed(1)} ms, max ${idle.maxMs.toFixed(1)} ms (${idle.count} calls)\n`);
      process.stdout.write(`  jobs.list during the load:  median ${during.medianMs.toFixed(1)} ms, max ${during.maxMs.toFixed(1)} ms (${during.count} calls)\n`);
      process.stdout.write(`  classifyCrops, 24 crops:    fastest ${classifyCrops.fastestMs.toFixed(1)} ms, median ${classifyCrops.medianMs.toFixed(1)} ms, max ${classifyCrops.maxMs.toFixed(1)} ms (target: under the live view's 66 ms frame budget)\n`);
    }
  } finally {
    transport.close();
    await server.close();
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
