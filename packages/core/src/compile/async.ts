import { FlagValidationError } from '../model/problem.js';
import { detectFormat, loadFlagFileParsers, readFlagFileText } from '../parse/read.js';
import { loadJsonLogic, usesJsonLogic } from '../query/jsonlogic-support.js';
import { SEGMENTS_KEY } from '../model/flag.js';
import { compileFlagData, type CompileOptions, type Snapshot } from './snapshot.js';

/**
 * `compileFlags` that first loads what the file needs and nothing more: the YAML or TOML parser for those formats, the
 * JsonLogic engine when a query is JsonLogic. The way to compile any flag file from the light entry point.
 */
export async function compileFlagsAsync(text: string, options: CompileOptions = {}): Promise<Snapshot> {
  // Without a format or a file name, text that starts like JSON is read as JSON (no YAML parser to load).
  const format = options.format ?? (options.source ? detectFormat(options.source) : /^\s*[{[]/.test(text) ? 'json' : 'yaml');
  if (format !== 'json') await loadFlagFileParsers();
  const raw = readFlagFileText(text, format, options.source);
  if (!raw.data) throw new FlagValidationError(raw.problems);
  await loadEnginesFor(raw.data);
  return compileFlagData(raw.data, options.source, raw.locate);
}

/** Loads the JsonLogic engine when a flag set (flag key → definition, maybe with `$segments`) needs it. */
export async function loadEnginesFor(definitions: Record<string, unknown>, segments?: Record<string, unknown>): Promise<void> {
  const ownSegments = definitions[SEGMENTS_KEY];
  const allSegments = { ...(ownSegments && typeof ownSegments === 'object' ? (ownSegments as Record<string, unknown>) : {}), ...(segments ?? {}) };
  if (usesJsonLogic(definitions, allSegments)) await loadJsonLogic();
}
