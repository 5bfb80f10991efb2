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

/** A perturbation shown at full contrast: grey is zero, black −ε, white +ε. */
export function amplifyPerturbation(perturbation: Float32Array, epsilon: number): Float32Array {
  let scale = epsilon;
  if (!(scale > 0)) {
    // DeepFool has no ε: scale by the largest change instead.
    scale = 1e-12;
    for (const value of perturbation) scale = Math.max(scale, Math.abs(value));
  }
  return perturbation.map((value) => 0.5 + value / (2 * scale));
}
