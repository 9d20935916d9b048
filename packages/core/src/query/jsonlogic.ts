// JsonLogic queries, run with json-logic-engine's synchronous engine.
//
// GOFF treats any query whose (trimmed) text is a JSON object as JsonLogic. A rule matches unless the result is one of
// JSON's falsy values as GOFF sees them: false, null, "", 0 or [] (so {"cat": ["t","r","u","e"]} matches). Evaluation
// errors mean no match. An unknown operator is a compile error (GOFF's jsonlogic.IsValid rejects it).

import { LogicEngine } from 'json-logic-engine';

let sharedEngine: LogicEngine | undefined;

function engine(): LogicEngine {
  sharedEngine ??= new LogicEngine();
  return sharedEngine;
}

export type JsonLogicBuild =
  | { ok: true; run: (data: Record<string, unknown>) => unknown }
  | { ok: false; message: string; operator?: string };

function unknownOperator(error: unknown): { key?: string } | undefined {
  if (error && typeof error === 'object' && (error as { type?: unknown }).type === 'Unknown Operator') {
    return error as { key?: string };
  }
  return undefined;
}

export function buildJsonLogic(logic: Record<string, unknown>): JsonLogicBuild {
  const e = engine();
  try {
    const fn = e.build(logic) as (data: unknown) => unknown;
    return { ok: true, run: (data) => fn(data) };
  } catch (error) {
    const unknown = unknownOperator(error);
    if (unknown) return unknownResult(unknown);
    // Function compilation needs eval, which some edge runtimes forbid: fall back to the engine's interpreter.
    try {
      e.run(logic, {});
    } catch (runError) {
      const unknownAtRun = unknownOperator(runError);
      if (unknownAtRun) return unknownResult(unknownAtRun);
    }
    return { ok: true, run: (data) => e.run(logic, data) };
  }
}

function unknownResult(unknown: { key?: string }): JsonLogicBuild {
  const methods = engine().methods as Record<string, unknown>;
  if (typeof unknown.key === 'string' && Object.prototype.hasOwnProperty.call(methods, unknown.key)) {
    // A known operator reported as unknown: its object holds other keys too.
    return {
      ok: false,
      message: `invalid JsonLogic: the operation ${JSON.stringify(unknown.key)} must be the only key of its object`,
      operator: unknown.key,
    };
  }
  if (typeof unknown.key === 'string') {
    return { ok: false, message: `unknown JsonLogic operator ${JSON.stringify(unknown.key)}`, operator: unknown.key };
  }
  return { ok: false, message: 'invalid JsonLogic: an operation must be an object with exactly one operator key' };
}

/** GOFF's truthiness of a JsonLogic result (it serialises the result and checks for false, null, "", 0 and []). */
export function jsonLogicMatches(result: unknown): boolean {
  if (result === false || result === null || result === undefined || result === '' || result === 0) return false;
  if (typeof result === 'number') return Number.isFinite(result); // NaN and ±Infinity do not serialise: an error
  if (Array.isArray(result)) return result.length > 0;
  return true;
}
