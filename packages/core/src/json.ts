// @vexil/core/json: the light entry point. The same engine and API as `@vexil/core`, without loading the YAML and TOML
// parsers or the JsonLogic engine: compileFlags reads JSON (flag files, snapshots) synchronously; compileFlagsAsync
// reads any format, loading the parser (and JsonLogic, when a query needs it) on demand. For cold starts (serverless
// functions, the Node client) and browser bundles. Keep its export list in step with index.ts.
export * from './model/flag.js';
export * from './model/evaluation.js';
export * from './model/problem.js';
export * from './model/experiment.js';
export { detectFormat } from './parse/read.js';
export type { FlagFileFormat, FieldPath, Locate, SourcePosition } from './parse/flag-file.js';
export { validateFlagDefinition, checkFlag, formatPath, type ValidateOptions, type CheckedFlag } from './validate/flag.js';
export {
  compileFlags,
  compileFlagSet,
  compileFlag,
  parseFlagFile,
  validateFlagSet,
  type Snapshot,
  type CompiledFlag,
  type CompiledRule,
  type FlagPhase,
  type CompileOptions,
  type ParsedFlagFile,
} from './compile/snapshot.js';
export { compileSegments, normalizeSegments } from './compile/segments.js';
export { evaluate, evaluateAll, hasType } from './evaluate/evaluate.js';
export { fnv1a32, fnv1a32Continue, compareUtf8 } from './bucketing/fnv.js';
export { buildPercentageBuckets, bucketOf, pickBucket, type PercentageBuckets } from './bucketing/percentage.js';
export { applyScheduledStep, orderedSteps } from './rollout/scheduled.js';
export { compileQuery, segmentReferences, type CompiledQuery, type QueryContext, type QueryCompileResult } from './query/index.js';
export { inlineSegments, toGoFeatureFlagForm } from './compile/goff-form.js';
export { normalizeExperiment, type ExperimentPlan, type ExperimentMetricPlan } from './experiment/plan.js';
export { stickyPolicyOf, stickyRequestFor, withKeptVariation, DEFAULT_STICKY_TTL_MS, type StickyPolicy, type StickyRequest } from './experiment/sticky.js';
export { canonicalJson } from './snapshot/canonical-json.js';

export { compileFlagsAsync, loadEnginesFor } from './compile/async.js';
export { loadFlagFileParsers, flagFileParsersLoaded } from './parse/read.js';
export { loadJsonLogic, jsonLogicLoaded, usesJsonLogic } from './query/jsonlogic-support.js';
