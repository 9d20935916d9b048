// @vexil/analysis: pure decisions over measurements. No I/O and no Node-only APIs: it runs in browsers too.
export * from './stats/statistics.js';
export * from './stats/errors.js';
export * from './stats/effect.js';
export * from './stats/cuped.js';
export * from './stats/frequentist.js';
export * from './stats/sequential.js';
export * from './stats/bayesian.js';
export * from './stats/srm.js';
export * from './stats/corrections.js';
export * from './experiment/input.js';
export * from './experiment/analyze.js';
export * from './experiment/corrections.js';
export * from './rollout/index.js';
export * from './experiment/report.js';
