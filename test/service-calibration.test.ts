/**
 * Calibration through the service: a sheet is made in the workspace, photos of it (simulated through a
 * known channel) fit a profile as a job, which is listed and read back; a photo of something else
 * names the reason.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { ApiError, awaitJob, createApiClient } from '../app/api/index.js';
import type { FoolprintApi } from '../app/api/index.js';
import { createFoolprintService } from '../app/node/service.js';
import type { FoolprintService } from '../app/node/service.js';
import { simulatePhoto } from '../app/physical/simulate.js';

describe('calibration in the service', () => {
  let dir: string;
  let service: FoolprintService;
  let api: FoolprintApi;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'foolprint-calibration-'));
    service = createFoolprintService({ workspaceDir: path.join(dir, 'workspace'), checkOutputs: true, workers: 1 });
    api = createApiClient(service);
  });
  afterAll(async () => {
    await service?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('makes a sheet, fits a profile from its photos as a job, lists it and reads it back', async () => {
    await expect(api.calibration.fit({ photos: [{ name: 'x.png', mimeType: 'image/png', base64: '' }] })).rejects.toThrow(/no calibration sheet yet/);
    const sheet = await api.calibration.sheet({});
    expect(sheet.patches).toBeGreaterThanOrEqual(40);
    expect(await api.calibration.sheets()).toEqual([sheet]);
    const pdf = await api.calibration.file({ calibrationSheetId: sheet.calibrationSheetId, file: 'pdf' });
    expect(Buffer.from(pdf.base64, 'base64').subarray(0, 5).toString()).toBe('%PDF-');
    const png = Buffer.from((await api.calibration.file({ calibrationSheetId: sheet.calibrationSheetId, file: 'png' })).base64, 'base64');
    const { data, info } = await sharp(png).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
    const photo = simulatePhoto({ data: new Uint8ClampedArray(data), width: info.width, height: info.height }, { width: 1280, height: 960, tiltDeg: 10, jpegQuality: 0 }, 7);
    const photoPng = await sharp(Buffer.from(photo.image.data), { raw: { width: 1280, height: 960, channels: 4 } }).png().toBuffer();
    const { jobId } = await api.calibration.fit({
      name: 'test printer',
      photos: [
        { name: 'sheet.png', mimeType: 'image/png', base64: photoPng.toString('base64') },
        { name: 'broken.jpg', mimeType: 'image/jpeg', base64: Buffer.from('not a jpeg').toString('base64') },
      ],
    });
    const fitted = await awaitJob(api, jobId, 'calibration');
    expect(fitted.name).toBe('test printer');
    expect(fitted.photos).toEqual(['sheet.png']);
    expect(fitted.failures).toEqual([{ name: 'broken.jpg', message: expect.stringMatching(/^broken\.jpg: unreadable photo/) as unknown as string }]);
    expect(fitted.blurMm[0]).toBeGreaterThan(0);
    expect((await api.calibration.profiles()).map((p) => p.profileId)).toEqual([fitted.profileId]);
    const profile = await api.calibration.profile({ profileId: fitted.profileId });
    expect(profile.kind).toBe('foolprint-channel-profile');
    expect(profile.source).toEqual({ photos: ['sheet.png'] });
    await expect(api.calibration.profile({ profileId: 'profile-none' })).rejects.toBeInstanceOf(ApiError);
  }, 120_000);

  it('a photo without the sheet fails the job with the reason', async () => {
    const blank = await sharp({ create: { width: 320, height: 240, channels: 3, background: '#c0c0c0' } }).png().toBuffer();
    const { jobId } = await api.calibration.fit({ photos: [{ name: 'wall.png', mimeType: 'image/png', base64: blank.toString('base64') }] });
    await expect(awaitJob(api, jobId, 'calibration')).rejects.toThrow(/wall\.png: calibration sheet not found/);
  }, 60_000);
});
