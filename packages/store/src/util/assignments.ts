import type { AssignmentRequest } from '../types.js';

/** One string per (flag, unit): the flag's length keeps a flag that is a prefix of another apart. */
export function assignmentKey(request: { flag: string; unit: string }): string {
  return `${request.flag.length}:${request.flag}${request.unit}`;
}

/**
 * The requests with one per (flag, unit), the first of each: a store writes each pair once per call (PostgreSQL
 * refuses to update one row twice in a statement), and every duplicate gets the same answer.
 */
export function uniqueRequests(requests: readonly AssignmentRequest[]): AssignmentRequest[] {
  const seen = new Set<string>();
  const unique: AssignmentRequest[] = [];
  for (const request of requests) {
    const key = assignmentKey(request);
    if (seen.has(key)) continue;
    seen.add(key);
    unique.push(request);
  }
  return unique;
}
