/** `sqlite:<file>` (relative to the working directory) or `sqlite:memory:`. */
export function parseSqliteUrl(url: string): string {
  const match = /^sqlite:(.+)$/i.exec(url.trim());
  if (!match || match[1]!.trim() === '') throw new Error(`not a SQLite URL (expected sqlite:<file> or sqlite:memory:): ${JSON.stringify(url)}`);
  return match[1]!.startsWith('//') ? match[1]!.slice(2) : match[1]!;
}
