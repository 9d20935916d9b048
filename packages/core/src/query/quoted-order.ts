// GO Feature Flag orders a quoted value as text: `appVersion ge "4.2.0"` is false for "4.10.0", and `n gt "10"` is
// true for "9". Vexil keeps those results (they are GO Feature Flag's), and warns where the text looks like a version
// or a number, with the unquoted form that compares as one.

import type { QueryNode } from './ast.js';
import { parseSemver } from './semver.js';

const ORDERING = new Set(['lt', 'gt', 'le', 'ge']);
const LOOKS_LIKE_VERSION = /^[vV]?\d+(\.\d+)+([-+][0-9A-Za-z.+-]*)?$/;
const LOOKS_LIKE_NUMBER = /^[-+]?\d+(\.\d+)?$/;

export interface QuotedOrderingWarning {
  message: string;
  column: number;
}

/** A warning for each `lt gt le ge` comparison whose quoted value looks like a version or a number. */
export function quotedOrderingWarnings(root: QueryNode): QuotedOrderingWarning[] {
  const out: QuotedOrderingWarning[] = [];
  const visit = (node: QueryNode): void => {
    switch (node.type) {
      case 'logical':
        for (const operand of node.operands) visit(operand);
        return;
      case 'not':
        visit(node.operand);
        return;
      case 'compare': {
        if (!ORDERING.has(node.op) || node.value.kind !== 'string') return;
        const warning = describe(node.path.join('.'), node.op, node.value.value, node.value.raw);
        if (warning) out.push({ message: warning, column: node.column });
        return;
      }
      default:
        return;
    }
  };
  visit(root);
  return out;
}

function describe(attribute: string, op: string, text: string, raw: string): string | undefined {
  const number = LOOKS_LIKE_NUMBER.test(text);
  const version = LOOKS_LIKE_VERSION.test(text);
  if (!number && !version) return undefined;
  const hints: string[] = [];
  if (number) hints.push(`to compare numbers, write it unquoted: ${attribute} ${op} ${text.replace(/^\+/, '')} (the context value must then be a number)`);
  if (version) {
    const semver = asSemver(text);
    hints.push(
      semver === undefined
        ? 'to compare versions, write an unquoted MAJOR.MINOR.PATCH version (e.g. 4.2.0)'
        : `to compare versions, write it unquoted: ${attribute} ${op} ${semver}${semver === text ? '' : ' (a version literal has three numbers, MAJOR.MINOR.PATCH, and no "v")'}`,
    );
  }
  return (
    `${raw} is quoted, so ${op} compares text, character by character, as GO Feature Flag does ` +
    `("4.10.0" ge "4.2.0" and "10" ge "9" are false); ${hints.join('; ')}`
  );
}

/** The semantic version a version-like text means (`v4.2` → `4.2.0`), or undefined. */
function asSemver(text: string): string | undefined {
  const bare = text.replace(/^[vV]/, '');
  const split = /[-+]/.exec(bare);
  const core = split ? bare.slice(0, split.index) : bare;
  const parts = core.split('.');
  if (parts.length > 3) return undefined;
  while (parts.length < 3) parts.push('0');
  const candidate = parts.join('.') + (split ? bare.slice(split.index) : '');
  return parseSemver(candidate) ? candidate : undefined;
}
