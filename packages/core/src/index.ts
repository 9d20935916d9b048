// @vexil/core: the flag model, parsing with positions, the query language, bucketing and evaluate().
// No I/O and no Node-only APIs: this package runs in browsers and at the edge.
export * from './model/flag.js';
export * from './model/evaluation.js';
export * from './model/problem.js';
export { detectFormat, readFlagFile, type FlagFileFormat, type FieldPath, type Locate, type SourcePosition } from './parse/flag-file.js';
export { validateFlagDefinition, checkFlag, formatPath, type ValidateOptions, type CheckedFlag } from './validate/flag.js';
export {
  compileFlags,
  compileFlagSet,
  compileFlag,
  applyChanges,
  parseFlagFile,
  validateFlagSet,
  type Snapshot,
  type CompiledFlag,
  type CompiledRule,
  type FlagPhase,
  type CompileOptions,
  type ParsedFlagFile,
  type SnapshotChanges,
} from './compile/snapshot.js';
export { compileSegments, normalizeSegments } from './compile/segments.js';
export { evaluate, evaluateAll, hasType } from './evaluate/evaluate.js';
export { fnv1a32, fnv1a32Continue, compareUtf8 } from './bucketing/fnv.js';
export { buildPercentageBuckets, bucketOf, pickBucket, type PercentageBuckets } from './bucketing/percentage.js';
export { applyScheduledStep, orderedSteps } from './rollout/scheduled.js';
export { compileQuery, segmentReferences, type CompiledQuery, type QueryContext, type QueryCompileResult } from './query/index.js';
export { inlineSegments, toGoFeatureFlagForm } from './compile/goff-form.js';
export { canonicalJson } from './snapshot/canonical-json.js';
