import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiClient, createHttpTransport } from '../app/api/index.js';
import type { FetchLike, HttpTransport } from '../app/api/index.js';
import { startServer } from '../main/server/server.js';
import type { RunningServer } from '../main/server/server.js';
import { mnistAvailable, mnistDir, prepareFixture, runContractLoop } from './service-loop.js';
import type { LoopFixture } from './service-loop.js';

if (!mnistAvailable) console.warn(`server contract test skipped: MNIST test files not found in ${mnistDir}`);

describe.skipIf(!mnistAvailable)('the API contract over HTTP (browser mode)', () => {
  let dir: string;
  let server: RunningServer;
  let transport: HttpTransport;
  let fixture: LoopFixture;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'foolprint-server-'));
    fixture = await prepareFixture(dir);
    server = await startServer({ workspaceDir: path.join(dir, 'workspace'), port: 0, workers: 1 });
    transport = createHttpTransport({ baseUrl: server.origin, fetch: globalThis.fetch as unknown as FetchLike, headers: { authorization: `Bearer ${server.token}` }, reconnectMs: 100 });
  }, 60_000);

  afterAll(async () => {
    transport?.close();
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('runs the same loop through POST /api/<method> and the SSE event stream', async () => {
    const figures = await runContractLoop(createApiClient(transport), fixture, path.join(dir, 'photos'));
    console.log('http loop figures', JSON.stringify(figures));
    expect(figures.analysedCells).toBe(figures.cellCount);
  }, 90_000);

  it('answers the live view\'s classifyCrops (24 crops, float32) over HTTP, a top-5 per crop', async () => {
    // Its speed against the live view's 66 ms frame budget is measured by npm run bench (bench-server).
    const api = createApiClient(transport);
    const modelId = fixture.modelFolder ? 'softmax-test' : 'lenet-mnist';
    const crops = Buffer.from(new Float32Array(24 * 784).fill(0.5).buffer).toString('base64');
    const answer = await api.capture.classifyCrops({ modelId, crops, count: 24, height: 28, width: 28, channels: 1 });
    expect(answer.top5).toHaveLength(24);
    // Identical crops get identical answers, each a top-k of distinct classes with probabilities in order.
    for (const top of answer.top5) expect(top).toEqual(answer.top5[0]);
    const top = answer.top5[0];
    expect(top.length).toBeGreaterThan(1);
    expect(new Set(top.map((p) => p.label)).size).toBe(top.length);
    for (let i = 1; i < top.length; i++) expect(top[i].probability).toBeLessThanOrEqual(top[i - 1].probability);
  }, 30_000);
});
