// Which parser reads a flag file. JSON is always at hand (JSON.parse); the YAML and TOML parsers (and the positioned
// JSON reader built on YAML) are installed by the full entry point `@vexil/core`, or loaded on demand with
// `loadFlagFileParsers()`, so that a JSON snapshot read through `@vexil/core/json` never loads them.
import type { FlagFileFormat, Locate, RawFlagFile } from './flag-file.js';
import { readJsonFlagFile } from './json-file.js';
import { unwrapSnapshotDocument } from './snapshot-document.js';

export type FlagFileReader = (text: string, format: FlagFileFormat, source?: string) => RawFlagFile;

let fullReader: FlagFileReader | undefined;

/** Picks the format from a file name: `.json`, `.toml`, anything else is YAML (GO Feature Flag's default). */
export function detectFormat(fileName: string): FlagFileFormat {
  const lower = fileName.toLowerCase();
  if (lower.endsWith('.json')) return 'json';
  if (lower.endsWith('.toml')) return 'toml';
  return 'yaml';
}

/**
 * The format of a text given without a format or a file name: YAML (GO Feature Flag's default; JSON is YAML too) when
 * its parser is loaded; otherwise JSON when the text looks like JSON, so the light entry point reads JSON without
 * loading the YAML parser (and other text gets the message saying how to load it).
 */
export function defaultFormat(text: string): FlagFileFormat {
  if (fullReader) return 'yaml';
  return /^\s*([{[]|$)/.test(text) ? 'json' : 'yaml';
}

/** Makes every format readable (the full entry point does this when it loads). */
export function installFlagFileReader(reader: FlagFileReader): void {
  fullReader = reader;
}

/** True when YAML and TOML files can be read synchronously. */
export function flagFileParsersLoaded(): boolean {
  return fullReader !== undefined;
}

/** Loads the YAML and TOML parsers (a dynamic import: works in Node, browsers and workers). */
export async function loadFlagFileParsers(): Promise<void> {
  if (fullReader) return;
  const module = await import('./lazy-parsers.js');
  fullReader ??= module.readFlagFile;
}

const noLocation: Locate = () => undefined;

/** Reads a flag file with the parsers loaded. Never throws. */
export function readFlagFileText(text: string, format: FlagFileFormat, source?: string): RawFlagFile {
  if (fullReader) return fullReader(text, format, source);
  if (format === 'json') return unwrapSnapshotDocument(readJsonFlagFile(text, source), source);
  return {
    data: undefined,
    locate: noLocation,
    problems: [
      {
        severity: 'error',
        source,
        message:
          `the ${format.toUpperCase()} parser is not loaded: import compileFlags from "@vexil/core" (every format), ` +
          `or use compileFlagsAsync / await loadFlagFileParsers() from "@vexil/core/json"`,
      },
    ],
  };
}
