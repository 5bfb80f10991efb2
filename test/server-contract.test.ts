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
});
