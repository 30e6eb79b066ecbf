import { Controller, Get, Inject, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { Gauge, Registry, collectDefaultMetrics } from 'prom-client';

export const METRICS_REGISTRY = Symbol('METRICS_REGISTRY');

/** One registry per process (the standalone process serves all three apps' metrics on one /metrics). */
export function createMetricsRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  return registry;
}

@Controller()
export class MetricsController {
  constructor(@Inject(METRICS_REGISTRY) private readonly registry: Registry) {}

  @Get('metrics')
  async metrics(@Res() reply: FastifyReply): Promise<void> {
    void reply
      .code(200)
      .type(this.registry.contentType)
      .send(await this.registry.metrics());
  }
}

export type LagCollector = () => Promise<Array<{ topic: string; partition: number; lag: number }>>;

export const CONSUMER_LAG_METRIC = 'zoom_consumer_lag';

const lagGauges = new WeakMap<
  Registry,
  { gauge: Gauge<'group' | 'topic' | 'partition'>; groups: Map<string, LagCollector> }
>();

/**
 * `zoom_consumer_lag{group,topic,partition}`: messages not yet committed, read from the broker at scrape time.
 * One gauge per registry whatever the number of consumer groups (the standalone process runs dedup and
 * uploader on one /metrics), one `group` label value each. Best effort: a slow broker never fails a scrape.
 */
export function consumerLagGauge(
  registry: Registry,
  options: { group: string; collect: LagCollector },
): Gauge<'group' | 'topic' | 'partition'> {
  let entry = lagGauges.get(registry);
  if (!entry) {
    const groups = new Map<string, LagCollector>();
    const gauge = new Gauge({
      name: CONSUMER_LAG_METRIC,
      help: 'Messages not yet committed per consumer group and topic partition',
      labelNames: ['group', 'topic', 'partition'],
      registers: [registry],
      async collect() {
        await Promise.all(
          [...groups].map(async ([group, collect]) => {
            try {
              for (const l of await collect())
                this.set({ group, topic: l.topic, partition: String(l.partition) }, l.lag);
            } catch {
              /* lag is best effort */
            }
          }),
        );
      },
    });
    entry = { gauge, groups };
    lagGauges.set(registry, entry);
  }
  entry.groups.set(options.group, options.collect);
  return entry.gauge;
}
