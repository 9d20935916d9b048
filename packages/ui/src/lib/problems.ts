// Problems (from the core's live validation, the form itself, or the server) grouped by field path.
export interface FieldProblem {
  message: string;
  severity?: 'error' | 'warning';
}

export type ProblemMap = Map<string, FieldProblem[]>;

export function addProblem(map: ProblemMap, path: string, problem: FieldProblem): void {
  const list = map.get(path) ?? [];
  if (!list.some((each) => each.message === problem.message)) list.push(problem);
  map.set(path, list);
}

/** A DOM id for the field at `path` (`targeting[0].query` → `f-targeting-0-query`). */
export function fieldId(path: string): string {
  return `f-${path.replace(/[^A-Za-z0-9_-]+/g, '-').replace(/-+$/, '')}`;
}

/** Problems at `path` and below it (`targeting[0]` also gets `targeting[0].percentage.a`). */
export function problemsUnder(map: ProblemMap, path: string): FieldProblem[] {
  const out: FieldProblem[] = [];
  for (const [key, list] of map) if (key === path || key.startsWith(`${path}.`) || key.startsWith(`${path}[`)) out.push(...list);
  return out;
}
