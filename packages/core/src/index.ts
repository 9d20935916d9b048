// @vexil/core: the flag model, parsing with positions, the query language, bucketing and evaluate().
// No I/O and no Node-only APIs: this package runs in browsers and at the edge.
export * from './model/flag.js';
export * from './model/evaluation.js';
export * from './model/problem.js';
export * from './model/experiment.js';
export * from './model/rollout.js';
export { detectFormat, readFlagFile, type FlagFileFormat, type FieldPath, type Locate, type SourcePosition } from './parse/flag-file.js';
export { YAML_ALIAS_LIMITS, checkYamlAliases, type YamlAliasLimits, type AliasCheck } from './parse/yaml-aliases.js';
export { writeFlagFile, FlagFileWriteError, type FlagFileContent, type WriteFlagFileOptions } from './parse/write-flag-file.js';
export { SNAPSHOT_DOCUMENT_FORMAT, isSnapshotDocument } from './parse/snapshot-document.js';
export { validateFlagDefinition, checkFlag, formatPath, type ValidateOptions, type CheckedFlag } from './validate/flag.js';
export { MAX_FLAG_DEPTH, MAX_FLAG_JSON_CHARS, hasLoneSurrogate, jsonDepth, reservedNameProblem } from './validate/limits.js';
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
export { flagNotFoundMessage, bucketingKeyMessage, missingContextHint, wrappedContextHint, withRequestHint } from './evaluate/error-messages.js';
export { fnv1a32, fnv1a32Continue, compareUtf8 } from './bucketing/fnv.js';
export { buildPercentageBuckets, bucketOf, pickBucket, type PercentageBuckets } from './bucketing/percentage.js';
export { applyScheduledStep, orderedSteps } from './rollout/scheduled.js';
export {
  normalizeRolloutPlan,
  rolloutServingRule,
  withRolloutState,
  continueRollout,
  baselineVariation,
  stepPercentages,
  parseDuration,
  parseFraction,
  gateName,
  DEFAULT_MIN_SAMPLE_SIZE,
  type RolloutPlan,
  type NormalizedGate,
} from './rollout/progressive-delivery.js';
export { compileQuery, segmentReferences, type CompiledQuery, type QueryContext, type QueryCompileResult } from './query/index.js';
export { inlineSegments, toGoFeatureFlagForm } from './compile/goff-form.js';
export { normalizeExperiment, type ExperimentPlan, type ExperimentMetricPlan } from './experiment/plan.js';
export { stickyPolicyOf, stickyRequestFor, withKeptVariation, DEFAULT_STICKY_TTL_MS, type StickyPolicy, type StickyRequest } from './experiment/sticky.js';
export { canonicalJson } from './snapshot/canonical-json.js';

// The full entry point loads every parser and the JsonLogic engine at once, so compileFlags reads YAML, JSON and TOML
// synchronously. `@vexil/core/json` (json.ts) is the same API without them, for fast cold starts and small bundles.
import { readFlagFile as readAnyFlagFile } from './parse/flag-file.js';
import * as jsonLogicEngine from './query/jsonlogic.js';
import { installFlagFileReader } from './parse/read.js';
import { installJsonLogic } from './query/jsonlogic-support.js';
installFlagFileReader(readAnyFlagFile);
installJsonLogic(jsonLogicEngine);
export { compileFlagsAsync, loadEnginesFor } from './compile/async.js';
export { loadFlagFileParsers, flagFileParsersLoaded } from './parse/read.js';
export { loadJsonLogic, jsonLogicLoaded, usesJsonLogic } from './query/jsonlogic-support.js';
