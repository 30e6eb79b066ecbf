import { Registry } from 'prom-client';
import { CONSUMER_LAG_METRIC, consumerLagGauge } from './metrics';

describe('consumerLagGauge', () => {
  it(
    'exports one zoom_consumer_lag family with a series per group, topic and partition (dedup and uploader in ' +
      'one process)',
    async () => {
      const registry = new Registry();
      consumerLagGauge(registry, {
        group: 'zoom-pipeline-dedup',
        collect: async () => [{ topic: 'zoom.webhooks.raw', partition: 0, lag: 5 }],
      });
      consumerLagGauge(registry, {
        group: 'zoom-pipeline-uploader',
        collect: async () => [
          { topic: 'zoom.recording.files', partition: 0, lag: 2 },
          { topic: 'zoom.recording.files', partition: 1, lag: 0 },
        ],
      });

      const text = await registry.metrics();

      expect(text.match(/# TYPE zoom_consumer_lag gauge/g)).toHaveLength(1);
      expect(text).toContain(
        `${CONSUMER_LAG_METRIC}{group="zoom-pipeline-dedup",topic="zoom.webhooks.raw",partition="0"} 5`,
      );
      expect(text).toContain(
        `${CONSUMER_LAG_METRIC}{group="zoom-pipeline-uploader",topic="zoom.recording.files",partition="0"} 2`,
      );
      expect(text).toContain(
        `${CONSUMER_LAG_METRIC}{group="zoom-pipeline-uploader",topic="zoom.recording.files",partition="1"} 0`,
      );
    },
  );

  it('keeps the other groups when one group cannot read its lag (best effort, the scrape never fails)', async () => {
    const registry = new Registry();
    consumerLagGauge(registry, { group: 'a', collect: async () => Promise.reject(new Error('broker down')) });
    consumerLagGauge(registry, { group: 'b', collect: async () => [{ topic: 't', partition: 0, lag: 7 }] });

    const text = await registry.metrics();

    expect(text).toContain('zoom_consumer_lag{group="b",topic="t",partition="0"} 7');
    expect(text).not.toContain('group="a"');
  });
});
