export * from './model/flag.js';
export * from './model/evaluation.js';
export * from './model/problem.js';
