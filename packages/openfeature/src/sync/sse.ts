/**
 * Server-Sent Events, parsed by hand (the WHATWG "event stream interpretation" rules), so the provider can read the
 * stream from `fetch` and send headers (`Authorization`, `Last-Event-ID`) that `EventSource` cannot.
 *
 * Feed decoded text in any chunking; complete events come out of `push()`.
 */
export interface SseEvent {
  /** `message` when the stream gave no `event:` field. */
  event: string;
  data: string;
  /** The last event id seen on the stream so far (ids persist across events, as in EventSource). */
  id: string;
  /** A `retry:` field, in milliseconds, when this event carried one. */
  retry?: number;
}

export class SseParser {
  private buffer = '';
  private eventType = '';
  private data: string[] = [];
  private hasData = false;
  private lastEventId = '';
  private retry: number | undefined;
  /** True right after a chunk ended with `\r`: a `\n` starting the next chunk belongs to that line break. */
  private pendingCr = false;

  constructor(lastEventId = '') {
    this.lastEventId = lastEventId;
  }

  get lastId(): string {
    return this.lastEventId;
  }

  /** Parses one chunk of text and returns the events it completed. */
  push(chunk: string): SseEvent[] {
    const events: SseEvent[] = [];
    let text = chunk;
    if (this.pendingCr) {
      this.pendingCr = false;
      if (text.startsWith('\n')) text = text.slice(1);
    }
    this.buffer += text;
    let start = 0;
    const buffer = this.buffer;
    for (let i = 0; i < buffer.length; i++) {
      const c = buffer.charCodeAt(i);
      if (c !== 10 && c !== 13) continue;
      this.line(buffer.slice(start, i), events);
      if (c === 13) {
        if (i + 1 < buffer.length) {
          if (buffer.charCodeAt(i + 1) === 10) i++;
        } else this.pendingCr = true;
      }
      start = i + 1;
    }
    this.buffer = buffer.slice(start);
    return events;
  }

  private line(line: string, events: SseEvent[]): void {
    if (line === '') {
      this.dispatch(events);
      return;
    }
    if (line.charCodeAt(0) === 58 /* ':' comment, e.g. a heartbeat */) return;
    const colon = line.indexOf(':');
    let field: string;
    let value: string;
    if (colon < 0) {
      field = line;
      value = '';
    } else {
      field = line.slice(0, colon);
      value = line.charCodeAt(colon + 1) === 32 ? line.slice(colon + 2) : line.slice(colon + 1);
    }
    switch (field) {
      case 'event':
        this.eventType = value;
        break;
      case 'data':
        this.data.push(value);
        this.hasData = true;
        break;
      case 'id':
        if (!value.includes('\0')) this.lastEventId = value;
        break;
      case 'retry':
        if (/^\d+$/.test(value)) this.retry = Number(value);
        break;
      default:
      // unknown fields are ignored
    }
  }

  private dispatch(events: SseEvent[]): void {
    const retry = this.retry;
    if (this.hasData) {
      const event: SseEvent = { event: this.eventType || 'message', data: this.data.join('\n'), id: this.lastEventId };
      if (retry !== undefined) event.retry = retry;
      events.push(event);
    } else if (retry !== undefined) {
      // A retry-only block still tells the client how long to wait before reconnecting.
      events.push({ event: '', data: '', id: this.lastEventId, retry });
    }
    this.eventType = '';
    this.data = [];
    this.hasData = false;
    this.retry = undefined;
  }
}
