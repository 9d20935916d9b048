import type { AssignmentRequest } from '../types.js';

/**
 * The requests with one per (flag, unit), the first of each: a store writes each pair once per call (PostgreSQL
 * refuses to update one row twice in a statement), and every duplicate gets the same answer.
 */
export function uniqueRequests(requests: readonly AssignmentRequest[]): AssignmentRequest[] {
  const seen = new Set<string>();
  const unique: AssignmentRequest[] = [];
  for (const request of requests) {
    const key = `${request.flag.length}:${request.flag}${request.unit}`;
    if (seen.has(key)) continue;
    seen.add(key);
    unique.push(request);
  }
  return unique;
}
