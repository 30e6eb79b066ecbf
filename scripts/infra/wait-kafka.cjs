#!/usr/bin/env node
// Readiness probe for the test broker: exits 0 once a real Kafka API round trip succeeds.
// Usage: node wait-kafka.cjs HOST:PORT [timeoutSeconds] [--warm]   (timeout 0 = a single attempt; default 90)
//   --warm  after the broker answers, make it create and load __consumer_offsets and __transaction_state
//           (a group offset fetch and a transactional producer's InitProducerId), so that the first test on a
//           fresh broker does not meet "The coordinator is loading" retries.
// Uses kafkajs (admin.describeCluster) when the repo's node_modules has it; otherwise falls back to a raw
// ApiVersions v0 request over TCP so that `infra.sh up` also works before `npm ci`.
'use strict';
const net = require('node:net');

const args = process.argv.slice(2);
const warm = args.includes('--warm');
const [hostPort, timeoutArg] = args.filter((a) => a !== '--warm');
if (!hostPort) {
  console.error('usage: wait-kafka.cjs HOST:PORT [timeoutSeconds]');
  process.exit(2);
}
const [host, portText] = hostPort.split(':');
const port = Number(portText);
const deadline = Date.now() + Number(timeoutArg ?? 90) * 1000;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function loadKafkajs() {
  try {
    return require('kafkajs');
  } catch {
    return undefined;
  }
}

async function probeKafkajs(kafkajs) {
  const kafka = new kafkajs.Kafka({
    clientId: 'zp-infra-probe',
    brokers: [hostPort],
    connectionTimeout: 2000,
    requestTimeout: 5000,
    retry: { retries: 0 },
    logLevel: kafkajs.logLevel.NOTHING,
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    if (!cluster.brokers.length || cluster.controller === null || cluster.controller === undefined) {
      throw new Error('no brokers/controller in metadata yet');
    }
    return `cluster ${cluster.clusterId}, brokers ${cluster.brokers.map((b) => `${b.host}:${b.port}`).join(',')}`;
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

async function warmUp(kafkajs) {
  const kafka = new kafkajs.Kafka({
    clientId: 'zp-infra-warmup',
    brokers: [hostPort],
    retry: { retries: 20, initialRetryTime: 200, maxRetryTime: 2000 },
    logLevel: kafkajs.logLevel.NOTHING,
  });
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.describeGroups(['zp-infra-warmup']); // FindCoordinator creates __consumer_offsets
  } finally {
    await admin.disconnect().catch(() => {});
  }
  const producer = kafka.producer({ transactionalId: 'zp-infra-warmup', maxInFlightRequests: 1, idempotent: true });
  await producer.connect();
  try {
    const tx = await producer.transaction(); // FindCoordinator + InitProducerId: creates and loads __transaction_state
    await tx.abort();
  } finally {
    await producer.disconnect().catch(() => {});
  }
}

function probeRaw() {
  // ApiVersions v0: int32 size | int16 apiKey=18 | int16 version=0 | int32 correlationId | string clientId
  return new Promise((resolve, reject) => {
    const clientId = Buffer.from('zp-infra-probe');
    const body = Buffer.alloc(2 + 2 + 4 + 2 + clientId.length);
    body.writeInt16BE(18, 0);
    body.writeInt16BE(0, 2);
    body.writeInt32BE(4242, 4);
    body.writeInt16BE(clientId.length, 8);
    clientId.copy(body, 10);
    const size = Buffer.alloc(4);
    size.writeInt32BE(body.length, 0);
    const sock = net.connect({ host, port });
    let buf = Buffer.alloc(0);
    sock.setTimeout(5000, () => sock.destroy(new Error('timeout')));
    sock.on('connect', () => sock.write(Buffer.concat([size, body])));
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 10) {
        const correlation = buf.readInt32BE(4);
        const errorCode = buf.readInt16BE(8);
        sock.destroy();
        if (correlation === 4242 && errorCode === 0) resolve('ApiVersions ok (raw probe, kafkajs not installed)');
        else reject(new Error(`ApiVersions error code ${errorCode}`));
      }
    });
    sock.on('error', reject);
    sock.on('close', () => reject(new Error('connection closed')));
  });
}

(async () => {
  const kafkajs = loadKafkajs();
  let lastError;
  do {
    try {
      const what = kafkajs ? await probeKafkajs(kafkajs) : await probeRaw();
      if (warm && kafkajs) await warmUp(kafkajs);
      console.log((`kafka answers on ${hostPort}: ` +
 `${what}${warm && kafkajs ? ' (group and transaction coordinators loaded)' : ''}`));
      process.exit(0);
    } catch (err) {
      lastError = err;
      if (Date.now() < deadline) await sleep(500);
    }
  } while (Date.now() < deadline);
  console.error(`kafka did not answer on ${hostPort}: ${lastError && lastError.message}`);
  process.exit(1);
})();
