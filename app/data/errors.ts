/**
 * Every problem a user can hit while reading a dataset (missing path, undecodable image, labels that
 * do not match the images). One line, naming the file, so hosts print it as it is.
 */
export class DatasetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DatasetError';
  }
}
