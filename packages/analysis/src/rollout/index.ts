export * from './measurements.js';
export * from './gates.js';
export * from './decide.js';
export * from './kill-switch.js';
