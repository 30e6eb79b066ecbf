import type { IncomingMessage } from 'node:http';
import { ROOT_CONTEXT, SpanKind, TraceFlags, trace } from '@opentelemetry/api';
import { SamplingDecision } from '@opentelemetry/sdk-trace';
import { defaultServiceName, ignoreIncoming, pipelineSampler, tracingEnabled } from './sdk-config';

const TRACE = 'd514bd0082bc6955a8feb409725166e7';

function decide(env: Record<string, string>, parentFlags?: TraceFlags) {
  const sampler = pipelineSampler(env);
  if (!sampler) return undefined;
  const ctx =
    parentFlags === undefined
      ? ROOT_CONTEXT
      : trace.setSpanContext(ROOT_CONTEXT, {
          traceId: TRACE,
          spanId: '4e872cfdca61bbf4',
          traceFlags: parentFlags,
          isRemote: true,
        });
  return sampler.shouldSample(ctx, TRACE, 'POST', SpanKind.SERVER, {}, []).decision;
}

describe('tracingEnabled', () => {
  it('is off unless an OTLP endpoint is set, and OTEL_SDK_DISABLED wins', () => {
    expect(tracingEnabled({})).toBe(false);
    expect(tracingEnabled({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' })).toBe(true);
    expect(tracingEnabled({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:4318/v1/traces' })).toBe(true);
    expect(tracingEnabled({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_SDK_DISABLED: 'true' })).toBe(false);
    expect(tracingEnabled({ OTEL_EXPORTER_OTLP_ENDPOINT: ' ' })).toBe(false);
  });
});

describe('pipelineSampler', () => {
  it("records spans under Zoom's unsampled remote parent (docs/ZOOM-FACTS.md §3, invariant 8)", () => {
    expect(decide({}, TraceFlags.NONE)).toBe(SamplingDecision.RECORD_AND_SAMPLED);
    expect(decide({}, TraceFlags.SAMPLED)).toBe(SamplingDecision.RECORD_AND_SAMPLED);
  });

  it('samples new roots by OTEL_TRACES_SAMPLER_ARG (default all)', () => {
    expect(decide({})).toBe(SamplingDecision.RECORD_AND_SAMPLED);
    expect(decide({ OTEL_TRACES_SAMPLER_ARG: '0' })).toBe(SamplingDecision.NOT_RECORD);
    expect(decide({ OTEL_TRACES_SAMPLER_ARG: '0' }, TraceFlags.NONE)).toBe(SamplingDecision.RECORD_AND_SAMPLED);
  });

  it('leaves an explicit OTEL_TRACES_SAMPLER to the SDK', () => {
    expect(pipelineSampler({ OTEL_TRACES_SAMPLER: 'always_off' })).toBeUndefined();
  });
});

describe('defaultServiceName and ignoreIncoming', () => {
  it('names the service after the app entry point', () => {
    expect(defaultServiceName('/srv/dist/apps/ingress/src/main.js')).toBe('zoom-pipeline-ingress');
    expect(defaultServiceName(undefined)).toBe('zoom-pipeline');
  });

  it('does not trace probes and scrapes', () => {
    expect(ignoreIncoming({ url: '/metrics' } as IncomingMessage)).toBe(true);
    expect(ignoreIncoming({ url: '/readyz?x=1' } as IncomingMessage)).toBe(true);
    expect(ignoreIncoming({ url: '/webhooks/zoom' } as IncomingMessage)).toBe(false);
  });
});
