/**
 * `foolprint simulate`: a synthetic camera photo of a printed sheet through the seeded print-and-photo
 * channel (app/physical/simulate.ts), for testing the analysis without a printer. A .jpg/.jpeg output
 * is real JPEG (sharp) at --jpeg-quality; for .png the channel's pure-TS JPEG approximation is applied
 * instead (unless --jpeg-quality 0).
 */
import type { Command } from 'commander';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../../../app/node/atomic-write.js';
import type { PhotoChannelParams } from '../../../app/physical/simulate.js';
import { UsageError, guarded, parsePositiveInt } from '../failure.js';

interface SimulateCommandOptions {
  sheet: string;
  out: string;
  seed: string;
  width: string;
  height: string;
  scale?: string;
  rotation?: string;
  tilt?: string;
  blur?: string;
  noise?: string;
  jpegQuality?: string;
  brightness?: string;
  contrast?: string;
  colourCast?: string;
  vignetting?: string;
  unevenLight?: string;
  paperTexture?: string;
  clutter?: string;
  channel?: string;
  sheetDpi?: string;
  json?: boolean;
}

function finite(text: string | undefined, what: string): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value)) throw new UsageError(`${what} must be a number, got "${text}"`);
  return value;
}

export function registerSimulate(program: Command): void {
  program
    .command('simulate')
    .description('photograph a sheet PNG through the seeded print-and-photo channel (perspective, light, blur, noise, JPEG)')
    .requiredOption('--sheet <sheet.png>', 'the sheet image (foolprint sheet writes sheet.png)')
    .option('--out <photo.jpg|photo.png>', 'output photo', 'photo.jpg')
    .option('--seed <n>', 'seed of every random choice (pose, light, noise, clutter)', '0')
    .option('--width <px>', 'photo width', '1280')
    .option('--height <px>', 'photo height', '720')
    .option('--scale <f>', 'sheet size as a fraction of the frame (default 0.8)')
    .option('--rotation <deg>', 'in-plane rotation, random within ± this (default 15)')
    .option('--tilt <deg>', 'largest out-of-plane tilt, random direction (default 25)')
    .option('--blur <sigma>', 'Gaussian blur σ in photo pixels (default 0.8)')
    .option('--noise <sigma>', 'Gaussian noise σ in [0,1] units (default 0.02)')
    .option('--jpeg-quality <q>', 'JPEG quality 1-100, 0 for none (default 85, or a draw in the --channel profile\'s range)')
    .option('--brightness <d>', 'added to every value, [0,1] units (default 0)')
    .option('--contrast <f>', 'contrast factor around mid-grey (default 1)')
    .option('--colour-cast <f>', 'largest red/blue gain change (default 0.08)')
    .option('--vignetting <f>', 'darkening at the frame corners, 0..1 (default 0.25)')
    .option('--uneven-light <f>', 'light gradient across the frame, 0..1 (default 0.25)')
    .option('--paper-texture <f>', 'paper texture amplitude (default 0.03)')
    .option('--clutter <n>', 'random shapes around the sheet (default 14)')
    .option('--channel <profile.json>', 'a channel profile (foolprint calibrate): its tone curves, colour matrix and blur in mm, and a seeded draw within its noise, light and JPEG ranges; the flags above override')
    .option('--sheet-dpi <n>', 'with --channel: the sheet PNG\'s resolution (default: read from the PNG)')
    .option('--json', 'print the parameters, the seed and the true homography as JSON')
    .action(guarded(async (options: SimulateCommandOptions) => {
      // Loaded here, not when the CLI lists its commands: they bring zod and canvas (issue 12: --help within 0.3 s).
      const [{ readChannelProfile }, { CalibrationError }, { ChannelProfileError }, { ChannelParameterError, photoParamsFromProfile, simulatePhoto }] = await Promise.all([
        import('../../../app/node/calibration-files.js'),
        import('../../../app/physical/calibration-sheet.js'),
        import('../../../app/physical/channel-profile.js'),
        import('../../../app/physical/simulate.js'),
      ]);
      const seed = Number(options.seed);
      if (!Number.isInteger(seed)) throw new UsageError(`--seed must be a whole number, got "${options.seed}"`);
      const extension = path.extname(options.out).toLowerCase();
      if (!['.jpg', '.jpeg', '.png'].includes(extension)) throw new UsageError(`--out must end in .jpg, .jpeg or .png, got "${options.out}"`);
      const profile = options.channel === undefined ? undefined : await readChannelProfile(options.channel).catch((error: Error) => {
        throw error instanceof CalibrationError || error instanceof ChannelProfileError ? new UsageError(error.message) : error;
      });
      const quality = finite(options.jpegQuality, '--jpeg-quality') ?? (profile ? photoParamsFromProfile(profile, 300, seed).jpegQuality : undefined) ?? 85;
      if (quality !== 0 && !(quality >= 1 && quality <= 100)) throw new UsageError(`--jpeg-quality must be 0 or from 1 to 100, got "${options.jpegQuality}"`);
      const realJpeg = extension !== '.png';
      const params: PhotoChannelParams = {
        width: parsePositiveInt(options.width, '--width'),
        height: parsePositiveInt(options.height, '--height'),
        scale: finite(options.scale, '--scale'),
        rotationDeg: finite(options.rotation, '--rotation'),
        tiltDeg: finite(options.tilt, '--tilt'),
        blurSigma: finite(options.blur, '--blur'),
        noiseSigma: finite(options.noise, '--noise'),
        // A .jpg gets real JPEG from sharp below, so the channel's approximation is switched off.
        jpegQuality: realJpeg ? 0 : quality,
        brightness: finite(options.brightness, '--brightness'),
        contrast: finite(options.contrast, '--contrast'),
        colourCast: finite(options.colourCast, '--colour-cast'),
        vignetting: finite(options.vignetting, '--vignetting'),
        unevenLight: finite(options.unevenLight, '--uneven-light'),
        paperTexture: finite(options.paperTexture, '--paper-texture'),
        clutter: finite(options.clutter, '--clutter'),
      };
      // Imported on use: sharp and the dataset loader (TF.js) would slow every command's start-up.
      const [{ default: sharp }, { decodeImageFile }] = await Promise.all([import('sharp'), import('../../../app/node/dataset-loader.js')]);
      const sheet = await decodeImageFile(options.sheet).catch((error: Error) => {
        throw new UsageError(error.message);
      });
      let channel = params;
      if (profile) {
        const density = options.sheetDpi === undefined ? (await sharp(options.sheet).metadata()).density : finite(options.sheetDpi, '--sheet-dpi');
        if (density === undefined || !(density > 0)) throw new UsageError(`${options.sheet} records no resolution: give --sheet-dpi (foolprint sheet writes 300 by default)`);
        // --blur in pixels replaces the profile's blur in mm.
        channel = photoParamsFromProfile(profile, density, seed, params);
        if (options.blur !== undefined) channel = { ...channel, blurMm: undefined };
      }
      let photo;
      try {
        photo = simulatePhoto({ data: sheet.data, width: sheet.width, height: sheet.height }, channel, seed);
      } catch (error) {
        if (error instanceof ChannelParameterError) throw new UsageError(error.message);
        throw error;
      }
      const raw = sharp(Buffer.from(photo.image.data.buffer, photo.image.data.byteOffset, photo.image.data.byteLength), { raw: { width: photo.image.width, height: photo.image.height, channels: 4 } }).removeAlpha();
      const encoded = realJpeg ? await raw.jpeg({ quality: Math.max(1, quality || 100) }).toBuffer() : await raw.png().toBuffer();
      await mkdir(path.dirname(path.resolve(options.out)), { recursive: true });
      await writeFileAtomic(options.out, encoded);
      const report = {
        out: path.resolve(options.out),
        seed,
        jpeg: realJpeg ? { encoder: 'sharp (libjpeg)', quality: quality || 100 } : quality > 0 ? { encoder: 'DCT quantisation approximation', quality } : null,
        params: { ...photo.params, jpegQuality: quality },
        /** Sheet-image pixels → photo pixels (pixel centres at integers). */
        homography: photo.homography,
        corners: photo.corners,
      };
      if (options.json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
      else {
        const pose = photo.params.tilt === null ? '' : `, tilt ${photo.params.tilt.toFixed(1)}°, rotation ${photo.params.rotation?.toFixed(1)}°`;
        process.stdout.write(`wrote ${report.out} (${photo.image.width}x${photo.image.height}, seed ${seed}${pose})\n`);
      }
    }));
}
