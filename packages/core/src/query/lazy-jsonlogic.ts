// The target of `loadJsonLogic()`'s dynamic import (see parse/lazy-parsers.ts for why it is a module of its own).
export { buildJsonLogic, jsonLogicMatches } from './jsonlogic.js';
