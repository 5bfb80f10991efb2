/**
 * A print-and-photo channel profile: what the user's printer, paper, light and camera do to a printed
 * image, as seen in the rectified cell the analysis classifies. One JSON shape, three users:
 * - calibration fits it from photos of a calibration sheet (`foolprint calibrate`);
 * - EOT attacks sample their transformations from it (`attack --eot N --channel profile.json`);
 * - the simulator renders photos through it (`simulate --channel profile.json`).
 *
 * Units are physical where the quantity is physical (millimetres on paper), so one profile serves any
 * cell size and any model input size: a consumer converts with `pixelsPerMm(cellMm, inputSide)`.
 * Tone and colour act on values in [0,1], in this order: per-channel tone curve, then the colour
 * matrix and offset, then the per-photo brightness and contrast variation.
 */
import { z } from 'zod';

/** Evenly spaced knots on [0,1]: a piecewise-linear curve, monotone non-decreasing. */
const toneCurve = z
  .array(z.number().finite().min(-0.5).max(1.5))
  .min(2)
  .max(257)
  .refine((knots) => knots.every((v, i) => i === 0 || v >= knots[i - 1] - 1e-6), 'a tone curve must not decrease');

const range = (low: number, high: number) =>
  z
    .tuple([z.number().finite().min(low).max(high), z.number().finite().min(low).max(high)])
    .refine(([a, b]) => a <= b, 'a range is [smallest, largest]');

export const channelProfileSchema = z
  .object({
    kind: z.literal('foolprint-channel-profile'),
    version: z.literal(1),
    /** Shown in the app, e.g. "Office laser + laptop webcam". */
    name: z.string().min(1).max(200),
    /** ISO time the profile was fitted (or written). */
    created: z.string().min(1).max(64),
    /** Where it came from: the photos it was fitted on (file names only), or "default". */
    source: z.union([z.literal('default'), z.object({ photos: z.array(z.string().max(1000)).max(10_000) })]),
    /** Per-channel tone curves R, G, B: printed value → photographed value, before the colour matrix. */
    tone: z.tuple([toneCurve, toneCurve, toneCurve]),
    /** Row-major 3x3 colour matrix applied after the tone curves (identity = no cross-talk). */
    colourMatrix: z.array(z.number().finite().min(-4).max(4)).length(9),
    /** Added after the colour matrix, [0,1] units. */
    colourOffset: z.tuple([z.number().finite().min(-1).max(1), z.number().finite().min(-1).max(1), z.number().finite().min(-1).max(1)]),
    /** Gaussian blur σ of the whole chain (print dot spread + lens + demosaic), in mm on paper. */
    blurMm: range(0, 10),
    /** Per-pixel Gaussian noise σ in [0,1] units at the cell's analysed resolution. */
    noiseSigma: range(0, 0.5),
    /** Per-photo variation around the fitted tone: value → (value - 0.5)·contrast + 0.5 + brightness. */
    brightness: range(-0.5, 0.5),
    contrast: range(0.2, 3),
    /**
     * Residual geometry of a cell after the sheet is rectified from its markers: what the homography
     * does not remove (misregistration, lens distortion, paper curl). Rotation in degrees, scale as a
     * factor, translation and perspective jitter (each corner moved independently) in mm.
     */
    pose: z.object({
      rotationDeg: range(-45, 45),
      scale: range(0.5, 2),
      translateMm: range(-20, 20),
      perspectiveMm: range(0, 20),
    }),
    /** JPEG quality range of the camera's files, or null when the photos are lossless. */
    jpegQuality: range(1, 100).nullable(),
    /** What the calibration saw, for the record (not used by EOT): sheet tilt in the photos, in degrees. */
    observed: z
      .object({
        photos: z.number().int().min(0),
        tiltDeg: range(0, 90).optional(),
        /** Fit quality: RMS error of the tone/colour fit over the patches, [0,1] units. */
        colourRms: z.number().finite().min(0).optional(),
        /**
         * Photo pixels per printed mm in the calibration photos. Calibration measures noiseSigma at these
         * photo pixels (the simulator adds it there); an analysed cell area-averages k = pixelsPerMm ·
         * cellMm / inputSide photo pixels per side, so its white noise is about noiseSigma / max(1, k).
         */
        pixelsPerMm: range(0, 1000).optional(),
      })
      .optional(),
  })
  .strict();

export type ChannelProfile = z.infer<typeof channelProfileSchema>;

export class ChannelProfileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ChannelProfileError';
  }
}

function identityCurve(knots = 17): number[] {
  return Array.from({ length: knots }, (_, i) => i / (knots - 1));
}

/**
 * The profile used when the user has not calibrated: an office laser printer on plain paper under
 * room light, photographed by a laptop webcam, as the analysed cell sees it. The analysis levels every
 * cell to its sheet's paper white and ink black (levels.ts), which undoes the printer's lifted black and
 * dulled white and most of the light's brightness and contrast; so the tone is left as identity and the
 * light varies only by what levelling leaves. With the printer's tone (0.08 + 0.84v) and ±0.1 / ±15%
 * light here instead, EOT spent its budget on changes the classifier never sees: at ε 0.2 on the
 * built-in digits 90.7% of its adversarial cells stayed adversarial on simulated camera, 95.1% with
 * these values (scripts/eot-evidence.sh, 48 digits).
 */
export function defaultChannelProfile(): ChannelProfile {
  const tone = identityCurve();
  return {
    kind: 'foolprint-channel-profile',
    version: 1,
    name: 'Default (office laser printer, webcam)',
    created: '2026-12-02T00:00:00.000Z',
    source: 'default',
    tone: [tone, [...tone], [...tone]],
    colourMatrix: [1, 0, 0, 0, 1, 0, 0, 0, 1],
    colourOffset: [0, 0, 0],
    blurMm: [0.2, 0.6],
    noiseSigma: [0, 0.03],
    brightness: [-0.03, 0.03],
    contrast: [0.95, 1.05],
    pose: { rotationDeg: [-4, 4], scale: [0.95, 1.05], translateMm: [-0.8, 0.8], perspectiveMm: [0, 0.6] },
    jpegQuality: [70, 95],
  };
}

/** Parses a profile from JSON text; a clear one-line error names the first bad field. */
export function parseChannelProfile(text: string, where = 'channel profile'): ChannelProfile {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ChannelProfileError(`${where} is not JSON: ${(error as Error).message}`);
  }
  const parsed = channelProfileSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue.path.length > 0 ? issue.path.join('.') : '(top level)';
    throw new ChannelProfileError(`${where} is not a Foolprint channel profile: ${field}: ${issue.message}`);
  }
  return parsed.data;
}

/** Pixels of the model's input per printed millimetre, for a cell printed `cellMm` on its longer side. */
export function pixelsPerMm(cellMm: number, inputSide: number): number {
  if (!(cellMm > 0) || !(inputSide > 0)) throw new ChannelProfileError(`cell size and input size must be positive, got ${cellMm} mm and ${inputSide} px`);
  return inputSide / cellMm;
}
