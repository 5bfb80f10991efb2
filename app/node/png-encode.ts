/** PNG encoding of [0,1] float images, with the same 8-bit rounding the quantized view evaluates. */
import sharp from 'sharp';

export function toBytes(pixels: Float32Array): Uint8Array {
  const bytes = new Uint8Array(pixels.length);
  for (let i = 0; i < pixels.length; i++) bytes[i] = Math.round(Math.min(1, Math.max(0, pixels[i])) * 255);
  return bytes;
}

export async function encodePng(pixels: Float32Array, width: number, height: number, channels: number): Promise<Buffer> {
  if (pixels.length !== width * height * channels) {
    throw new Error(`image has ${pixels.length} values, expected ${width}x${height}x${channels}`);
  }
  const raw = { width, height, channels: channels as 1 | 3 | 4 };
  const image = sharp(Buffer.from(toBytes(pixels).buffer), { raw });
  // Without b-w, sharp widens one-channel images to sRGB: keep grey images grey (a third the size).
  return (channels === 1 ? image.toColourspace('b-w') : image).png({ compressionLevel: 9 }).toBuffer();
}

/**
 * How much the amplified perturbation magnifies a pixel's change: ±ε spans the whole grey range, so a
 * change δ shows as δ/(2ε) around mid-grey, 1/(2ε) times larger (×16 at ε = 8/255). DeepFool has no ε:
 * its largest change, ‖δ‖∞, spans the range instead.
 */
export function perturbationAmplification(epsilon: number, linf: number): number {
  return 1 / (2 * (epsilon > 0 ? epsilon : Math.max(linf, 1e-12)));
}

/** A perturbation shown at full contrast: grey is zero, black −ε, white +ε. */
export function amplifyPerturbation(perturbation: Float32Array, epsilon: number): Float32Array {
  let linf = 0;
  for (const value of perturbation) linf = Math.max(linf, Math.abs(value));
  const factor = perturbationAmplification(epsilon, linf);
  return perturbation.map((value) => 0.5 + value * factor);
}
