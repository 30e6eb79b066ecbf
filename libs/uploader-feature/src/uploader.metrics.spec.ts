import { Registry } from 'prom-client';
import { UploaderMetrics } from './uploader.metrics';

describe('UploaderMetrics', () => {
  it('shows how long a partition with lag has not advanced, and 0 for one without lag', async () => {
    const registry = new Registry();
    const lastProgress = new Map([
      [0, Date.now() - 120_000],
      [1, Date.now() - 500_000],
    ]);
    new UploaderMetrics(
      registry,
      async () => [
        { topic: 'zoom.recording.files', partition: 0, lag: 5 },
        { topic: 'zoom.recording.files', partition: 1, lag: 0 },
      ],
      'group',
      (p) => lastProgress.get(p) ?? Date.now(),
    );

    const values = (await registry.getSingleMetric('zoom_upload_partition_stalled_seconds')!.get()).values;
    const byPartition = Object.fromEntries(values.map((v) => [v.labels.partition, v.value]));
    expect(byPartition['0']).toBeGreaterThanOrEqual(120);
    expect(byPartition['0']).toBeLessThan(180);
    expect(byPartition['1']).toBe(0);
  });
});
