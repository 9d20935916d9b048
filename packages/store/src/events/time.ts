/**
 * A point in time as the CLI and the admin API take it: a duration back from `now` (`90s`, `15m`, `1h`, `7d`) or
 * an ISO 8601 date. Returns epoch milliseconds; throws a TypeError naming the field otherwise.
 */
export function parseTimeArg(value: string, field: string, now: number = Date.now()): number {
  const text = value.trim();
  const duration = /^(\d+(?:\.\d+)?)\s*(s|m|h|d|w)$/i.exec(text);
  if (duration) {
    const unit = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }[duration[2]!.toLowerCase() as 's' | 'm' | 'h' | 'd' | 'w'];
    return now - Number(duration[1]) * unit;
  }
  if (/^\d{4}-\d{2}-\d{2}/.test(text)) {
    const at = Date.parse(text);
    if (!Number.isNaN(at)) return at;
  }
  throw new TypeError(`${field}: "${value}" is neither a duration back from now (30s, 15m, 1h, 7d) nor an ISO 8601 date`);
}
