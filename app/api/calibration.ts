import { z } from 'zod';
import { channelProfileSchema } from '../physical/channel-profile.js';
import { fileBytesSchema, idSchema, jobStartedSchema, noInputSchema } from './common.js';

/** A calibration sheet written into the workspace (calibration/sheets/<id>/). */
export const calibrationSheetSchema = z.object({
  calibrationSheetId: idSchema,
  createdAt: z.string(),
  /** The set identity its identity markers print: photos of another set's sheet are refused. */
  identity: z.string(),
  sheetId: z.string(),
  patches: z.number().int().nonnegative(),
  edges: z.number().int().nonnegative(),
  /** Absolute paths on the host (Electron opens/prints them; browser mode downloads via calibration.file). */
  pdfPath: z.string(),
  pngPath: z.string(),
  manifestPath: z.string(),
});
export type CalibrationSheet = z.infer<typeof calibrationSheetSchema>;

const range = z.tuple([z.number(), z.number()]);

/** A fitted channel profile stored in the workspace (calibration/profiles/<id>.json), in brief. */
export const channelProfileInfoSchema = z.object({
  profileId: idSchema,
  name: z.string(),
  created: z.string(),
  photos: z.array(z.string()),
  blurMm: range,
  noiseSigma: range,
  /** RMS of the tone/colour fit over the patches, [0,1] units (null: not recorded). */
  colourRms: z.number().nullable(),
  /** Photos the fit could not use, each with the reason (only in the fit job's result). */
  failures: z.array(z.object({ name: z.string(), message: z.string() })).default([]),
});
export type ChannelProfileInfo = z.infer<typeof channelProfileInfoSchema>;

export const calibrationMethods = {
  /** Direct (about a second): draw a calibration sheet (grey ramp, colour patches, slanted edges) into the workspace. */
  'calibration.sheet': {
    input: z.object({ paper: z.enum(['a4', 'letter']).default('a4'), orientation: z.enum(['portrait', 'landscape']).default('portrait') }),
    output: calibrationSheetSchema,
  },
  'calibration.sheets': { input: noInputSchema, output: z.array(calibrationSheetSchema) },
  /** The bytes of a calibration sheet's PDF, PNG or manifest, for download in browser mode. */
  'calibration.file': { input: z.object({ calibrationSheetId: idSchema, file: z.enum(['pdf', 'png', 'manifest']) }), output: fileBytesSchema },
  /** Job: fit a channel profile from photos of the workspace's calibration sheets → ChannelProfileInfo. */
  'calibration.fit': {
    input: z.object({ photos: z.array(fileBytesSchema).min(1).max(50), name: z.string().trim().min(1).max(200).optional() }),
    output: jobStartedSchema,
  },
  'calibration.profiles': { input: noInputSchema, output: z.array(channelProfileInfoSchema) },
  'calibration.profile': { input: z.object({ profileId: idSchema }), output: channelProfileSchema },
} as const;
