/**
 * Reads a range of items from an IDX file on disk, raw or gzipped, without holding the rest:
 * a raw file is read at the range's position; a gzip file is inflated as a stream (zlib works on
 * libuv's thread pool) and dropped up to the range, then closed as soon as the range is in.
 * The header is checked against the file before any value is read: a raw file's size, a gzip
 * file's trailer (ISIZE, the uncompressed size modulo 2^32), and the MAX_IDX_BYTES cap, so a
 * damaged or hostile file fails in milliseconds instead of after inflating gigabytes.
 * streamIdxRange hands the range over piece by piece as it is read, so a caller can convert one
 * piece while zlib inflates the next; readIdxRange collects the pieces into one array.
 */
import { open } from 'node:fs/promises';
import path from 'node:path';
import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { DatasetError } from '../data/errors.js';
import { formatBytes, parseIdxHeader, type IdxHeader } from '../data/idx.js';

export interface IdxRange {
  header: IdxHeader;
  /** Index of the first item read and how many were read. */
  first: number;
  count: number;
  /** The raw big-endian bytes of items [first, first + count). */
  bytes: Uint8Array;
}

export interface IdxReadOptions {
  signal?: AbortSignal;
  /** Bytes read (uncompressed) so far and the position the range ends at. */
  onProgress?: (done: number, total: number) => void;
}

/** Where a range starts: the checked header and the items read, known before any of their bytes. */
export type IdxRangeStart = Omit<IdxRange, 'bytes'>;

/**
 * Takes the range's bytes piece by piece, in file order: `piece` is bytes [at, at + piece.length)
 * of the range. Copy what you keep: a piece may be a view of a buffer reused after the call.
 */
export type IdxPieceSink = (piece: Uint8Array, at: number) => void;

const CHUNK = 1 << 20;
/**
 * Inflated per step when only the header is wanted (it is at most 1 KB): with CHUNK, reading the
 * headers of the MNIST test set inflated its first megabyte twice, ~10 ms of the CLI's start-up.
 */
const HEADER_CHUNK = 1 << 14;
const PROGRESS_EVERY = 32 << 20;

function rangeOf(header: IdxHeader, name: string, first: number, count: number | undefined): { first: number; count: number; start: number; end: number } {
  const items = header.dims[0];
  if (first > 0 && first >= items) throw new DatasetError(`offset ${first} is beyond the ${items} items of ${name}`);
  const n = Math.min(count ?? items, items - first);
  const start = header.headerBytes + first * header.itemBytes;
  return { first, count: n, start, end: start + n * header.itemBytes };
}

function sizeMismatch(name: string, header: IdxHeader, actual: string): DatasetError {
  return new DatasetError(`${name} does not match its header: dimensions ${header.dims.join('x')} of ${header.typeName} need ${header.totalBytes} bytes (${formatBytes(header.totalBytes)}), ${actual}`);
}

/** Items [first, first + count) of an IDX file (count undefined: to the end). */
export async function readIdxRange(file: string, first = 0, count?: number, options: IdxReadOptions = {}): Promise<IdxRange> {
  let bytes = new Uint8Array(0);
  const start = await streamIdxRange(file, first, count, (range) => {
    bytes = new Uint8Array(range.count * range.header.itemBytes);
    return (piece, at) => bytes.set(piece, at);
  }, options);
  return { ...start, bytes };
}

/**
 * Items [first, first + count) of an IDX file (count undefined: to the end), handed to the sink
 * `receive` returns as they are read. `receive` is called once, after every check of the header
 * and before any byte of the range; a read that fails may have delivered part of the range.
 */
export async function streamIdxRange(file: string, first: number, count: number | undefined, receive: (start: IdxRangeStart) => IdxPieceSink, options: IdxReadOptions = {}): Promise<IdxRangeStart> {
  const name = path.basename(file);
  const handle = await open(file, 'r').catch((error: NodeJS.ErrnoException) => {
    throw new DatasetError(`cannot open ${file}: ${error.code ?? error.message}`);
  });
  let gzip: boolean;
  let isize: number;
  let size: number;
  try {
    size = (await handle.stat()).size;
    const magic = Buffer.alloc(2);
    await handle.read(magic, 0, 2, 0);
    gzip = size >= 2 && magic[0] === 0x1f && magic[1] === 0x8b;
    if (gzip) {
      if (size < 18) throw new DatasetError(`${file} is a damaged gzip file: ${size} bytes cannot hold a gzip header and trailer`);
      const trailer = Buffer.alloc(4);
      await handle.read(trailer, 0, 4, size - 4);
      isize = trailer.readUInt32LE(0);
    } else {
      const head = Buffer.alloc(Math.min(size, 4 + 4 * 255));
      await handle.read(head, 0, head.length, 0);
      const header = parseIdxHeader(head, name);
      if ('needBytes' in header) throw new DatasetError(`${name}: IDX header is truncated (${size} bytes)`);
      if (size !== header.totalBytes) throw sizeMismatch(name, header, `the file has ${size}`);
      const range = rangeOf(header, name, first, count);
      const start = { header, first: range.first, count: range.count };
      const sink = receive(start);
      const length = range.end - range.start;
      const buffer = new Uint8Array(Math.min(CHUNK * 16, length));
      for (let at = 0; at < length; ) {
        options.signal?.throwIfAborted();
        const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, length - at), range.start + at);
        if (bytesRead === 0) throw new DatasetError(`${name} ended early while reading`);
        sink(buffer.subarray(0, bytesRead), at);
        at += bytesRead;
        options.onProgress?.(range.start + at, range.end);
      }
      return start;
    }
  } finally {
    await handle.close();
  }
  return streamGzipRange(file, name, isize, first, count, receive, options);
}

async function streamGzipRange(file: string, name: string, isize: number, first: number, count: number | undefined, receive: (start: IdxRangeStart) => IdxPieceSink, options: IdxReadOptions): Promise<IdxRangeStart> {
  const step = count === 0 ? HEADER_CHUNK : CHUNK;
  const source = createReadStream(file, { highWaterMark: step });
  const gunzip = createGunzip({ chunkSize: step });
  source.on('error', (error) => gunzip.destroy(error));
  source.pipe(gunzip);
  let head = new Uint8Array(0);
  let header: IdxHeader | undefined;
  let range: ReturnType<typeof rangeOf> | undefined;
  let sink: IdxPieceSink | undefined;
  let position = 0;
  let reported = 0;
  try {
    for await (const chunk of gunzip as AsyncIterable<Buffer>) {
      options.signal?.throwIfAborted();
      const chunkStart = position;
      position += chunk.length;
      if (!header) {
        const joined = new Uint8Array(head.length + chunk.length);
        joined.set(head);
        joined.set(chunk, head.length);
        head = joined;
        const parsed = parseIdxHeader(head.subarray(0, 4 + 4 * 255), name);
        if ('needBytes' in parsed) continue;
        header = parsed;
        // The trailer holds the uncompressed size modulo 2^32: compare before inflating the rest.
        if (header.totalBytes % 2 ** 32 !== isize) throw sizeMismatch(name, header, `the gzip file expands to ${isize} bytes (modulo 4 GiB, from its trailer)`);
        range = rangeOf(header, name, first, count);
        sink = receive({ header, first: range.first, count: range.count });
      }
      if (!range || !sink) continue;
      const from = Math.max(range.start, chunkStart);
      const to = Math.min(range.end, position);
      if (to > from) sink(chunk.subarray(from - chunkStart, to - chunkStart), from - range.start);
      if (options.onProgress && (position - reported >= PROGRESS_EVERY || position >= range.end)) {
        reported = position;
        options.onProgress(Math.min(position, range.end), range.end);
      }
      if (position > header!.totalBytes) throw sizeMismatch(name, header!, 'the gzip file expands to more');
      // Reading to the end: go on to the gzip trailer, so zlib checks the CRC and the length.
      if (position >= range.end && range.end < header!.totalBytes) break;
    }
  } catch (error) {
    if (error instanceof DatasetError || (error as Error).name === 'AbortError') throw error;
    throw new DatasetError(`${file} is a damaged gzip file: ${(error as Error).message.split('\n')[0]}`);
  } finally {
    source.destroy();
    gunzip.destroy();
  }
  if (!header || !range || !sink) throw new DatasetError(`${name}: IDX header is truncated (${position} bytes after decompression)`);
  if (position < range.end) throw sizeMismatch(name, header, `the gzip file expands to only ${position}`);
  return { header, first: range.first, count: range.count };
}
