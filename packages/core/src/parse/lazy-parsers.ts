// The target of `loadFlagFileParsers()`'s dynamic import: a module of its own, so that bundlers of the full entry point
// (which imports flag-file.ts statically) do not warn that the dynamic import cannot split anything off.
export { readFlagFile } from './flag-file.js';
