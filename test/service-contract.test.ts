import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiClient } from '../app/api/index.js';
import { createFoolprintService } from '../app/node/service.js';
import type { FoolprintService } from '../app/node/service.js';
import { mnistAvailable, mnistDir, prepareFixture, runContractLoop } from './service-loop.js';
import type { LoopFixture } from './service-loop.js';

if (!mnistAvailable) console.warn(`service contract test skipped: MNIST test files not found in ${mnistDir}`);

describe.skipIf(!mnistAvailable)('the API contract against the service in-process', () => {
  let dir: string;
  let service: FoolprintService;
  let fixture: LoopFixture;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'foolprint-service-'));
    fixture = await prepareFixture(dir);
    service = createFoolprintService({ workspaceDir: path.join(dir, 'workspace'), checkOutputs: true, workers: 1 });
  }, 60_000);

  afterAll(async () => {
    await service?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('runs the whole loop: model, attack with progress and cancel, gallery, sheet, photo analysis, compare', async () => {
    const figures = await runContractLoop(createApiClient(service), fixture, path.join(dir, 'photos'));
    console.log('service loop figures', JSON.stringify(figures));
    expect(figures.analysedCells).toBe(figures.cellCount);
  }, 90_000);
});
