// Prints a query tree back as nikunjy text that GOFF accepts (single spaces, lower-case keywords) and that parses
// to the same tree.

import type { Literal, QueryNode } from './ast.js';

export interface PrintOptions {
  /**
   * Also parenthesise a left operand that mixes a different logical operator, so the left-to-right grouping is
   * visible: `(a or b) and c` instead of the equivalent `a or b and c`.
   */
  explicit?: boolean;
}

export function printLiteral(value: Literal): string {
  switch (value.kind) {
    case 'string-list':
    case 'int-list':
    case 'float-list':
      return `[${value.raws.join(', ')}]`;
    default:
      return value.raw;
  }
}

export function printQuery(node: QueryNode, options: PrintOptions = {}): string {
  switch (node.type) {
    case 'segment':
      return `@${node.name}`;
    case 'present':
      return `${node.path.join('.')} pr`;
    case 'compare':
      return `${node.path.join('.')} ${node.op} ${printLiteral(node.value)}`;
    case 'not':
      return node.operand.type === 'segment' ? `not @${node.operand.name}` : `not (${printQuery(node.operand, options)})`;
    case 'logical':
      return node.operands
        .map((operand, index) => {
          const text = printQuery(operand, options);
          if (operand.type !== 'logical') return text;
          // Left-to-right grouping makes parentheses around the first operand unnecessary.
          const needed = index > 0 || (options.explicit === true && operand.op !== node.op);
          return needed ? `(${text})` : text;
        })
        .join(` ${node.op} `);
  }
}
