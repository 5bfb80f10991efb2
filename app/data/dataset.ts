/** A labelled image set in the model-independent form every loader returns. */
export interface Dataset {
  /** Pixels in [0,1], NHWC, row-major: images.length === count * height * width * channels. */
  readonly images: Float32Array;
  readonly labels: Int32Array;
  readonly count: number;
  /** Images in the whole source, before an offset and a limit chose `count` of them. */
  readonly sourceCount: number;
  readonly height: number;
  readonly width: number;
  readonly channels: number;
  /** Where each image came from (file name or index), for records and sheets. */
  readonly ids: readonly string[];
  /** Class names when the source names them (folder names, CSV); index = label. */
  readonly classNames?: readonly string[];
  /** Human-readable notes about what the loader did (e.g. "resized 64x64 to 28x28"). */
  readonly notes: readonly string[];
}
