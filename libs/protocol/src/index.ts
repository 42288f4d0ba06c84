export * from './frames.js';
export * from './errors.js';
export * from './close-codes.js';
export * from './constants.js';
export * from './internal.js';
export * from './validate.js';
export * from './encode.js';
