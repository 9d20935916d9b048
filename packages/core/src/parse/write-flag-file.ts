// Writes flags back out as a GO Feature Flag flag file (YAML, JSON or TOML): what `vexil export --format` prints, so
// that leaving Vexil is as easy as arriving. Reading the text back gives the same flags (pinned by a property test).

import { stringify as toYaml } from 'yaml';
import { stringify as toToml } from 'smol-toml';
import type { FlagDefinition, SegmentDefinition } from '../model/flag.js';
import type { FlagFileFormat } from './flag-file.js';
import { toGoFeatureFlagForm } from '../compile/goff-form.js';

export interface FlagFileContent {
  flags: Readonly<Record<string, FlagDefinition>>;
  /** Written under `$segments` (a Vexil extension) when there are any. */
  segments?: Readonly<Record<string, SegmentDefinition>>;
}

/** Thrown when the flags cannot be written in the asked format (TOML has no null). */
export class FlagFileWriteError extends Error {
  override name = 'FlagFileWriteError';
}

export interface WriteFlagFileOptions {
  /**
   * Plain GO Feature Flag, which knows no Vexil extension: each segment reference written as the segment's query,
   * `$segments` and `offVariation` left out. Default false: the file reads back into Vexil exactly.
   */
  goFeatureFlag?: boolean;
}

/** The flag file text, `$segments` first, then the flags in the order given. */
export function writeFlagFile(content: FlagFileContent, format: FlagFileFormat, options: WriteFlagFileOptions = {}): string {
  const data: Record<string, unknown> = {};
  const segments = content.segments ?? {};
  if (!options.goFeatureFlag && Object.keys(segments).length > 0) data.$segments = segments;
  for (const [key, flag] of Object.entries(content.flags)) data[key] = options.goFeatureFlag ? toGoFeatureFlagForm(flag, segments) : flag;
  switch (format) {
    case 'json':
      return JSON.stringify(data, null, 2) + '\n';
    case 'toml': {
      const nullAt = findNull(data, []);
      if (nullAt) throw new FlagFileWriteError(`TOML cannot hold the null at ${nullAt}: export as yaml or json`);
      return toToml(data).trimEnd() + '\n';
    }
    default:
      // No anchors (each flag stands alone), no line folding (queries stay on one line, as written).
      return toYaml(data, { aliasDuplicateObjects: false, lineWidth: 0, version: '1.2' });
  }
}

function findNull(value: unknown, path: string[]): string | undefined {
  if (value === null || value === undefined) return path.join('.') || '(top level)';
  if (typeof value !== 'object') return undefined;
  for (const [key, inner] of Object.entries(value)) {
    const found = findNull(inner, [...path, Array.isArray(value) ? `[${key}]` : key]);
    if (found) return found;
  }
  return undefined;
}
