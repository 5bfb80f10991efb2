/**
 * The external data files an .onnx file names (`location` of every initialiser stored outside it),
 * read straight from the protobuf wire format: graph (field 7) → initializer (5) → external_data
 * (13) → key/value. The Models screen calls it before uploading, to send model.onnx with exactly the
 * data files it needs and to say which are missing. Written by hand rather than with protobufjs
 * (onnx-proto.ts): protobufjs builds its decoders with `new Function` and looks modules up with
 * `eval`, which the renderer's content security policy forbids; this walk needs neither, skips every
 * other field without decoding it and costs one pass over the bytes.
 */
import { ModelError } from '../errors.js';

export interface ExternalDataName {
  /** The initialiser's name. */
  tensor: string;
  /** Its `location` entry, as written in the file. */
  location: string;
}

const WIRE = { VARINT: 0, FIXED64: 1, BYTES: 2, FIXED32: 5 } as const;

class Cursor {
  at: number;
  constructor(readonly bytes: Uint8Array, start: number, readonly end: number, readonly file: string) {
    this.at = start;
  }

  fail(why: string): never {
    throw new ModelError(`${this.file} is not an ONNX model (${why} at byte ${this.at})`);
  }

  /** A varint as a number; lengths and tags beyond 2^53 are refused as corrupt. */
  varint(): number {
    let value = 0;
    for (let shift = 0; shift < 70; shift += 7) {
      if (this.at >= this.end) this.fail('truncated varint');
      const byte = this.bytes[this.at++];
      value += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) {
        if (!Number.isSafeInteger(value)) this.fail('varint too large');
        return value;
      }
    }
    this.fail('varint longer than 10 bytes');
  }

  /** The next field's number and wire type, or null at the end. */
  tag(): { field: number; wire: number } | null {
    if (this.at >= this.end) return null;
    const tag = this.varint();
    return { field: Math.floor(tag / 8), wire: tag % 8 };
  }

  /** A length-delimited field's [start, end). */
  span(): [number, number] {
    const length = this.varint();
    if (length > this.end - this.at) this.fail(`a field of ${length} bytes runs past the end`);
    const start = this.at;
    this.at += length;
    return [start, this.at];
  }

  skip(wire: number): void {
    switch (wire) {
      case WIRE.VARINT: this.varint(); return;
      case WIRE.FIXED64: this.advance(8); return;
      case WIRE.BYTES: this.span(); return;
      case WIRE.FIXED32: this.advance(4); return;
      default: this.fail(`wire type ${wire}`);
    }
  }

  private advance(n: number): void {
    if (n > this.end - this.at) this.fail('truncated field');
    this.at += n;
  }

  /** Calls `each` on every length-delimited field numbered `field` of this message; skips the rest. */
  messages(field: number, each: (inner: Cursor) => void): void {
    for (let t = this.tag(); t; t = this.tag()) {
      if (t.field === field && t.wire === WIRE.BYTES) {
        const [start, end] = this.span();
        each(new Cursor(this.bytes, start, end, this.file));
      } else {
        this.skip(t.wire);
      }
    }
  }
}

const utf8 = new TextDecoder();

/**
 * Every initialiser of `bytes` (an .onnx file) kept in an external file, with the `location` it
 * gives, in file order. Initialisers with inline data are left out. Bytes that are not a protobuf
 * message are a one-line ModelError naming `file`; what the graph means is the loader's to check.
 */
export function onnxExternalDataNames(bytes: Uint8Array, file: string): ExternalDataName[] {
  const found: ExternalDataName[] = [];
  new Cursor(bytes, 0, bytes.length, file).messages(7, (graph) =>
    graph.messages(5, (tensor) => {
      let name = '';
      let location: string | undefined;
      for (let t = tensor.tag(); t; t = tensor.tag()) {
        if (t.field === 8 && t.wire === WIRE.BYTES) {
          const [start, end] = tensor.span();
          name = utf8.decode(bytes.subarray(start, end));
        } else if (t.field === 13 && t.wire === WIRE.BYTES) {
          const [start, end] = tensor.span();
          let key = '';
          let value = '';
          const entry = new Cursor(bytes, start, end, file);
          for (let e = entry.tag(); e; e = entry.tag()) {
            if ((e.field === 1 || e.field === 2) && e.wire === WIRE.BYTES) {
              const [from, to] = entry.span();
              const text = utf8.decode(bytes.subarray(from, to));
              if (e.field === 1) key = text;
              else value = text;
            } else {
              entry.skip(e.wire);
            }
          }
          // As protobufjs's decoding and a Map of the entries read it: the last "location" counts.
          if (key === 'location') location = value;
        } else {
          tensor.skip(t.wire);
        }
      }
      // No location at all is the loader's error to give (it names what is missing).
      if (location) found.push({ tensor: name, location });
    }),
  );
  return found;
}
