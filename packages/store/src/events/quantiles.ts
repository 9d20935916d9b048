import { DDSketch } from '@datadog/sketches-js';

/**
 * Value distributions as DDSketch (Datadog's `@datadog/sketches-js`): mergeable, 1 % relative accuracy on every
 * quantile, a few hundred bytes a series. Stored as base64 of the sketch's protobuf form.
 */
const RELATIVE_ACCURACY = 0.01;

export function newSketch(): DDSketch {
  return new DDSketch({ relativeAccuracy: RELATIVE_ACCURACY });
}

export function parseSketch(text: string | null | undefined): DDSketch {
  if (!text) return newSketch();
  return DDSketch.fromProto(Buffer.from(text, 'base64'));
}

export function serialiseSketch(sketch: DDSketch): string {
  return sketch.count === 0 ? '' : Buffer.from(sketch.toProto()).toString('base64');
}

export function quantile(sketch: DDSketch, q: number): number | null {
  return sketch.count === 0 ? null : sketch.getValueAtQuantile(q);
}
