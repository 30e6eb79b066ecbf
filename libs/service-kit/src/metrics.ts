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
    void reply.code(200).type(this.registry.contentType).send(await this.registry.metrics());
  }
}

export type LagCollector = () => Promise<Array<{ topic: string; partition: number; lag: number }>>;

/** Consumer lag per partition, read from the broker at scrape time. Best effort: a slow broker never fails a scrape. */
export function consumerLagGauge(registry: Registry, options: { name: string; help: string; group: string; collect: LagCollector }): Gauge<'group' | 'topic' | 'partition'> {
  return new Gauge({
    name: options.name,
    help: options.help,
    labelNames: ['group', 'topic', 'partition'],
    registers: [registry],
    async collect() {
      try {
        for (const l of await options.collect()) this.set({ group: options.group, topic: l.topic, partition: String(l.partition) }, l.lag);
      } catch {
        /* lag is best effort */
      }
    },
  });
}
