// Gate queries against Prometheus' HTTP API (`GET /api/v1/query`). A query that errors, times out, returns no
// series, more than one series, or a non-finite value is answered as inconclusive data, never as a pass.
import type { MeasurementRequest, MeasurementSource, Measurements, QueryResult } from '@vexil/analysis';

export interface PrometheusSourceOptions {
  /** Base URL, e.g. http://127.0.0.1:9090 (a path prefix is kept). */
  url: string;
  /** Per-query time-out. Default 10 s. */
  timeoutMs?: number;
  /** Evaluate queries at the request's `to` (true) or at Prometheus' own now (false, default: the controller's clock may be simulated). */
  atRequestTime?: boolean;
}

interface PrometheusResponse {
  status?: string;
  errorType?: string;
  error?: string;
  data?: { resultType?: string; result?: unknown };
}

export class PrometheusMeasurementSource implements MeasurementSource {
  readonly name = 'prometheus';
  readonly #base: string;

  constructor(private readonly options: PrometheusSourceOptions) {
    this.#base = options.url.replace(/\/+$/, '');
  }

  async measure(request: MeasurementRequest): Promise<Partial<Measurements>> {
    const queries: Record<string, QueryResult> = {};
    await Promise.all(request.queries.map(async (query) => (queries[query] = await this.query(query, this.options.atRequestTime ? request.to : undefined))));
    return { queries };
  }

  /** One instant query. */
  async query(query: string, atMs?: number): Promise<QueryResult> {
    const params = new URLSearchParams({ query });
    if (atMs !== undefined) params.set('time', String(atMs / 1000));
    let response: Response;
    try {
      response = await fetch(`${this.#base}/api/v1/query?${params}`, { signal: AbortSignal.timeout(this.options.timeoutMs ?? 10_000) });
    } catch (error) {
      return { ok: false, reason: 'error', message: `Prometheus at ${this.#base} did not answer: ${(error as Error).message}` };
    }
    let body: PrometheusResponse;
    try {
      body = (await response.json()) as PrometheusResponse;
    } catch {
      return { ok: false, reason: 'error', message: `Prometheus answered HTTP ${response.status} without JSON` };
    }
    if (body.status !== 'success') return { ok: false, reason: 'error', message: `${body.errorType ?? `HTTP ${response.status}`}: ${body.error ?? 'query failed'}` };
    const { resultType, result } = body.data ?? {};
    let raw: unknown;
    if (resultType === 'scalar') raw = (result as [number, string])[1];
    else if (resultType === 'vector') {
      const series = result as Array<{ metric: Record<string, string>; value: [number, string] }>;
      if (series.length === 0) return { ok: false, reason: 'no-data', message: 'the query returned no series' };
      if (series.length > 1) return { ok: false, reason: 'error', message: `the query returned ${series.length} series; a gate needs one number (aggregate with sum, max…)` };
      raw = series[0]!.value[1];
    } else return { ok: false, reason: 'error', message: `the query returned a ${resultType ?? 'unknown'} result; a gate needs one number` };
    const value = Number(raw);
    if (!Number.isFinite(value)) return { ok: false, reason: 'no-data', message: `the query returned ${String(raw)}` };
    return { ok: true, value };
  }
}
