/**
 * Import first in an app's main.ts (`import '@zoom-pipeline/telemetry/register';`), before Nest, http and
 * kafkajs load: instrumentation-http patches `http` when it is required. Does nothing unless an OTLP
 * endpoint is configured (see tracingEnabled); everything else comes from the standard OTEL_* env.
 */
import type { IncomingMessage } from 'node:http';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { BatchSpanProcessor } from '@opentelemetry/sdk-trace';
import { defaultServiceName, ignoreIncoming, pipelineSampler, scrubServerSpan, tracingEnabled } from './sdk-config';
import { setTelemetryShutdown } from './shutdown';

function start(env: NodeJS.ProcessEnv): void {
  if (!tracingEnabled(env)) return;
  env.OTEL_SERVICE_NAME ??= defaultServiceName(process.argv[1]);
  // Metrics stay on Prometheus (/metrics) and logs on stdout; the SDK would otherwise default both to OTLP.
  env.OTEL_METRICS_EXPORTER ??= 'none';
  env.OTEL_LOGS_EXPORTER ??= 'none';
  // Read here, not from libs/config: this module runs before anything else is loaded (see above).
  const scrub = scrubServerSpan(env.LOG_CLIENT_IPS === 'true');
  const sdk = new NodeSDK({
    // OTLP over HTTP with JSON bodies; endpoint, headers and timeouts from OTEL_EXPORTER_OTLP_*.
    spanProcessors: [new BatchSpanProcessor({ exporter: new OTLPTraceExporter() })],
    sampler: pipelineSampler(env),
    instrumentations: [
      // Server spans extract Zoom's traceparent. Outgoing requests (Zoom downloads, S3) get manual spans
      // in the uploader instead: those carry only the host, never a pre-signed query or a token.
      // kafkajs instrumentation stays off: with eachBatch it only links to the producer span and adds
      // a second, batch-long span per record; the feature code propagates parent/child by headers.
      new HttpInstrumentation({
        disableOutgoingRequestInstrumentation: true,
        ignoreIncomingRequestHook: (req: IncomingMessage) => ignoreIncoming(req),
        applyCustomAttributesOnSpan: (span) => scrub(span),
      }),
    ],
  });
  sdk.start();
  setTelemetryShutdown(() => sdk.shutdown());
}

start(process.env);
