// GOFF's query trimming (utils.StrTrim): split on "\n", strip the leading spaces of each line, join with "".

export interface Trimmed {
  value: string;
  /** Maps an index in `value` back to an index in the original text. */
  offsets(index: number): number;
}

export function goffTrim(text: string): Trimmed {
  const kept: number[] = [];
  let value = '';
  let lineStart = true;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10) {
      lineStart = true;
      continue;
    }
    if (lineStart && c === 32) continue;
    lineStart = false;
    value += text[i];
    kept.push(i);
  }
  return {
    value,
    offsets: (index) => (index < kept.length ? kept[index]! : text.length),
  };
}
