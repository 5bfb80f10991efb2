/**
 * Channel calibration in the service: calibration sheets and fitted channel profiles live in the
 * workspace, beside the experiments (they describe the user's printer and camera, not one experiment):
 *   calibration/sheets/<id>/      calibration.pdf, calibration.png, calibration-sheet.json
 *   calibration/profiles/<id>.json  a channel profile (app/physical/channel-profile.ts)
 */
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import type { CalibrationSheet, ChannelProfileInfo } from '../api/calibration.js';
import { ApiError } from '../api/errors.js';
import { calibrate } from '../physical/calibration-fit.js';
import { CalibrationError, parseCalibrationManifest } from '../physical/calibration-sheet.js';
import type { CalibrationManifest } from '../physical/calibration-sheet.js';
import { ChannelProfileError, parseChannelProfile } from '../physical/channel-profile.js';
import type { ChannelProfile } from '../physical/channel-profile.js';
import { loadOpenCVInNode } from '../physical/opencv.node.js';
import { CALIBRATION_MANIFEST_FILE, decodeCalibrationPhoto, writeCalibrationSheet, writeChannelProfile } from './calibration-files.js';
import { newId } from './service.js';
import type { Handlers, ServiceCore } from './service.js';

type CalibrationMethods = 'calibration.sheet' | 'calibration.sheets' | 'calibration.file' | 'calibration.fit' | 'calibration.profiles' | 'calibration.profile';

export function createCalibrationHandlers(core: ServiceCore): Pick<Handlers, CalibrationMethods> {
  const root = () => path.join(path.resolve(core.options.workspaceDir), 'calibration');
  const sheetsDir = () => path.join(root(), 'sheets');
  const profilesDir = () => path.join(root(), 'profiles');

  /** Folders under calibration/sheets with a finished manifest; file names are fixed, never taken from the JSON. */
  async function storedSheets(): Promise<{ info: CalibrationSheet; manifest: CalibrationManifest }[]> {
    const entries = await readdir(sheetsDir(), { withFileTypes: true }).catch(() => []);
    const sheets: { info: CalibrationSheet; manifest: CalibrationManifest }[] = [];
    for (const entry of entries.filter((e) => e.isDirectory()).sort((a, b) => a.name.localeCompare(b.name))) {
      const folder = path.join(sheetsDir(), entry.name);
      const manifestPath = path.join(folder, CALIBRATION_MANIFEST_FILE);
      const text = await readFile(manifestPath, 'utf8').catch(() => null);
      if (text === null) continue;
      let manifest: CalibrationManifest;
      try {
        manifest = parseCalibrationManifest(text, manifestPath);
      } catch {
        continue;
      }
      sheets.push({
        manifest,
        info: {
          calibrationSheetId: entry.name,
          createdAt: manifest.sheet.createdAt,
          identity: manifest.sheet.identity ?? '',
          sheetId: manifest.sheet.sheetId,
          patches: manifest.patches.length,
          edges: manifest.edges.length,
          pdfPath: path.join(folder, path.basename(manifest.sheet.files.pdf)),
          pngPath: path.join(folder, path.basename(manifest.sheet.files.png)),
          manifestPath,
        },
      });
    }
    return sheets;
  }

  const profileInfo = (profileId: string, profile: ChannelProfile, failures: ChannelProfileInfo['failures'] = []): ChannelProfileInfo => ({
    profileId,
    name: profile.name,
    created: profile.created,
    photos: profile.source === 'default' ? [] : profile.source.photos,
    blurMm: profile.blurMm,
    noiseSigma: profile.noiseSigma,
    colourRms: profile.observed?.colourRms ?? null,
    failures,
  });

  async function readProfile(profileId: string): Promise<ChannelProfile> {
    const file = path.join(profilesDir(), `${profileId}.json`);
    const text = await readFile(file, 'utf8').catch(() => null);
    if (text === null) throw new ApiError('not-found', `no channel profile "${profileId}" in the workspace`);
    try {
      return parseChannelProfile(text, `channel profile "${profileId}"`);
    } catch (error) {
      if (error instanceof ChannelProfileError) throw new ApiError('invalid-input', error.message);
      throw error;
    }
  }

  return {
    'calibration.sheet': async ({ paper, orientation }) => {
      await core.workspace();
      const id = newId('calibration');
      const written = await writeCalibrationSheet(path.join(sheetsDir(), id), { paper, orientation });
      const stored = (await storedSheets()).find((s) => s.info.calibrationSheetId === id);
      if (!stored) throw new Error(`calibration sheet ${id} was written but cannot be read back from ${written.manifestPath}`);
      return stored.info;
    },
    'calibration.sheets': async () => (await storedSheets()).map((s) => s.info),
    'calibration.file': async ({ calibrationSheetId, file }) => {
      const sheet = (await storedSheets()).find((s) => s.info.calibrationSheetId === calibrationSheetId);
      if (!sheet) throw new ApiError('not-found', `no calibration sheet "${calibrationSheetId}" in the workspace`);
      const pick = file === 'pdf' ? sheet.info.pdfPath : file === 'png' ? sheet.info.pngPath : sheet.info.manifestPath;
      const bytes = await readFile(pick).catch(() => {
        throw new ApiError('not-found', `calibration sheet "${calibrationSheetId}" has no ${file} file`);
      });
      const mimeType = file === 'pdf' ? 'application/pdf' : file === 'png' ? 'image/png' : 'application/json';
      return { name: path.basename(pick), mimeType, base64: bytes.toString('base64') };
    },
    'calibration.fit': async ({ photos, name }) => {
      await core.workspace();
      const manifests = (await storedSheets()).map((s) => s.manifest);
      if (manifests.length === 0) throw new ApiError('invalid-input', 'the workspace has no calibration sheet yet: make one (Print screen), print it and photograph it first');
      return core.jobs.start('calibration', 'Calibrating the channel', async (context) => {
        try {
          const decoded = [];
          const unreadable: { name: string; message: string }[] = [];
          for (const [i, photo] of photos.entries()) {
            context.signal.throwIfAborted();
            context.progress(i, 2 * photos.length + 1, `decoding ${photo.name}`);
            try {
              decoded.push(await decodeCalibrationPhoto(Buffer.from(photo.base64, 'base64'), photo.name));
            } catch (error) {
              if (!(error instanceof CalibrationError)) throw error;
              unreadable.push({ name: photo.name, message: error.message });
            }
          }
          if (decoded.length === 0) throw new CalibrationError(unreadable.map((u) => u.message).join('; '));
          const opencv = await loadOpenCVInNode();
          const result = await calibrate(decoded, manifests, {
            name,
            opencv,
            signal: context.signal,
            onProgress: (done, total, label) => context.progress(photos.length + done, photos.length + total + 1, label === 'fitting' ? 'fitting' : `reading ${label}`),
          });
          const profileId = newId('profile');
          await writeChannelProfile(path.join(profilesDir(), `${profileId}.json`), result.profile);
          context.progress(1, 1, 'done');
          return profileInfo(profileId, result.profile, [...unreadable, ...result.failures]);
        } catch (error) {
          if (error instanceof CalibrationError) throw new ApiError('invalid-input', error.message);
          throw error;
        }
      });
    },
    'calibration.profiles': async () => {
      const files = (await readdir(profilesDir()).catch(() => [] as string[])).filter((f) => f.endsWith('.json')).sort();
      const infos: ChannelProfileInfo[] = [];
      for (const file of files) {
        const profileId = file.slice(0, -'.json'.length);
        try {
          infos.push(profileInfo(profileId, await readProfile(profileId)));
        } catch {
          // A damaged or foreign file is not listed; calibration.profile names what is wrong with it.
        }
      }
      return infos;
    },
    'calibration.profile': async ({ profileId }) => readProfile(profileId),
  };
}
