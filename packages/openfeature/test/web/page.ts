// The page the browser test loads: the OpenFeature web SDK with the OFREP web provider, driven from the test
// through `window.vexilTest`. Bundled with esbuild at test time.
import { OpenFeature, ProviderEvents, type EvaluationContext, type JsonValue } from '@openfeature/web-sdk';
import { OFREPWebProvider } from '@openfeature/ofrep-web-provider';

const log: Array<{ event: string; flagsChanged?: string[]; message?: string }> = [];
for (const event of [ProviderEvents.Ready, ProviderEvents.Stale, ProviderEvents.Error, ProviderEvents.ConfigurationChanged]) {
  OpenFeature.addHandler(event, (details) => {
    const flagsChanged = (details as { flagsChanged?: string[] } | undefined)?.flagsChanged;
    log.push({ event, ...(flagsChanged ? { flagsChanged } : {}), ...(details?.message ? { message: details.message } : {}) });
  });
}

(window as unknown as { vexilTest: unknown }).vexilTest = {
  log,
  async start(baseUrl: string, sdkKey: string, context: EvaluationContext) {
    await OpenFeature.setContext(context);
    await OpenFeature.setProviderAndWait(new OFREPWebProvider({ baseUrl, headers: [['Authorization', `Bearer ${sdkKey}`]] }));
  },
  setContext(context: EvaluationContext) {
    return OpenFeature.setContext(context);
  },
  details(key: string, fallback: JsonValue) {
    const client = OpenFeature.getClient();
    const details =
      typeof fallback === 'boolean'
        ? client.getBooleanDetails(key, fallback)
        : typeof fallback === 'string'
          ? client.getStringDetails(key, fallback)
          : typeof fallback === 'number'
            ? client.getNumberDetails(key, fallback)
            : client.getObjectDetails(key, fallback);
    return JSON.parse(JSON.stringify(details));
  },
};
