/** The Foolprint API contract: schemas, types, the method and event lists, the typed client. */
export * from './common.js';
export * from './errors.js';
export * from './invalid-input.js';
export * from './models.js';
export * from './samples.js';
export * from './attacks.js';
export * from './sweeps.js';
export * from './sheets.js';
export * from './capture.js';
export * from './compare.js';
export * from './defenses.js';
export * from './experiments.js';
export * from './system.js';
export * from './events.js';
export * from './methods.js';
export * from './client.js';
export * from './http-transport.js';
