/**
 * Writes a huge, all-zero MNIST-style IDX pair (images .gz + labels .gz) in a second or two, for the
 * large-dataset test and `npm run bench`: 1.9 M blank 28x28 images are 1.5 GB expanded, 1.5 MB
 * compressed. Deflating 1.5 GB of zeros takes zlib about 8 s, so one 16 MiB block is deflated once,
 * ended with a full flush (byte-aligned, dictionary reset) and repeated: a valid gzip stream whose
 * CRC-32 and length trailer are computed from the same blocks.
 */
import { open } from 'node:fs/promises';
import path from 'node:path';
import { constants, crc32, deflateRawSync } from 'node:zlib';

const BLOCK = 1 << 24;

function idxHeader(dims: number[]): Buffer {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header[2] = 0x08;
  header[3] = dims.length;
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return header;
}

/** A gzip file of `header` followed by `zeros` zero bytes; returns its size in bytes. */
async function writeZeroGzip(file: string, header: Buffer, zeros: number): Promise<number> {
  const handle = await open(file, 'w');
  let size = 0;
  const write = async (bytes: Uint8Array) => {
    await handle.write(bytes);
    size += bytes.length;
  };
  try {
    await write(Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]));
    const flushed = (bytes: Uint8Array) => deflateRawSync(bytes, { level: 9, finishFlush: constants.Z_FULL_FLUSH });
    const total = header.length + zeros;
    const firstLength = Math.min(total, BLOCK);
    const first = Buffer.alloc(firstLength);
    header.copy(first);
    await write(flushed(first));
    let crc = crc32(first);
    const zeroBlock = Buffer.alloc(BLOCK);
    const repeated = flushed(zeroBlock);
    let left = total - firstLength;
    for (; left >= BLOCK; left -= BLOCK) {
      await write(repeated);
      crc = crc32(zeroBlock, crc);
    }
    if (left > 0) {
      const tail = Buffer.alloc(left);
      await write(flushed(tail));
      crc = crc32(tail, crc);
    }
    await write(deflateRawSync(Buffer.alloc(0)));
    const trailer = Buffer.alloc(8);
    trailer.writeUInt32LE(crc >>> 0, 0);
    trailer.writeUInt32LE(total % 2 ** 32, 4);
    await write(trailer);
  } finally {
    await handle.close();
  }
  return size;
}

/** `count` blank 28x28 digits labelled 0, as t10k-images/labels-idx…-ubyte.gz in `folder`. */
export async function writeBlankMnist(folder: string, count: number): Promise<{ imagesFile: string; compressedBytes: number; expandedBytes: number }> {
  const imagesFile = path.join(folder, 't10k-images-idx3-ubyte.gz');
  const compressedBytes = await writeZeroGzip(imagesFile, idxHeader([count, 28, 28]), count * 784);
  await writeZeroGzip(path.join(folder, 't10k-labels-idx1-ubyte.gz'), idxHeader([count]), count);
  return { imagesFile, compressedBytes, expandedBytes: 16 + count * 784 };
}
