import { createHmac } from 'node:crypto';
import { WebSocket } from 'ws';
import { type RtmsServer, startRtmsServer } from './rtms-server';

jest.setTimeout(20_000);

const sign = (secret: string, instance: string, stream: string): string =>
  createHmac('sha256', secret).update(`cid,${instance},${stream}`).digest('hex');

interface Client {
  ws: WebSocket;
  messages: Array<{ msg: Record<string, unknown>; binary: boolean }>;
  closed: Promise<number>;
}

async function connect(url: string): Promise<Client> {
  const ws = new WebSocket(url);
  const messages: Client['messages'] = [];
  ws.on('message', (data: Buffer, binary: boolean) =>
    messages.push({ msg: JSON.parse(data.toString()) as Record<string, unknown>, binary }),
  );
  const closed = new Promise<number>((resolve) => ws.on('close', (code: number) => resolve(code)));
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  return { ws, messages, closed };
}

async function until(probe: () => boolean): Promise<void> {
  while (!probe()) await new Promise((r) => setTimeout(r, 10));
}

describe('zoom-sim RTMS server', () => {
  let sim: RtmsServer;
  beforeAll(async () => {
    sim = await startRtmsServer({
      clientId: 'cid',
      clientSecret: 'sec',
      keepAliveIntervalMs: 50,
      keepAliveTimeoutMs: 200,
      keepAliveFrames: 'binary',
    });
    sim.addStream({ streamId: 's1', instanceId: 'm1', audioFrames: 5 });
  });
  afterAll(() => sim.close());

  const handshake = (signature: string) =>
    JSON.stringify({
      msg_type: 1,
      protocol_version: 1,
      meeting_uuid: 'm1',
      rtms_stream_id: 's1',
      sequence: 1,
      signature,
    });

  it('refuses a wrong signature with a status and closes with 1000', async () => {
    const c = await connect(sim.signalingUrl);
    c.ws.send(handshake(sign('wrong', 'm1', 's1')));
    expect(await c.closed).toBe(1000);
    expect(c.messages[0]!.msg).toMatchObject({ msg_type: 2, status_code: 1 });
    expect(sim.stats().badSignatures).toBe(1);
  });

  it(
    'accepts the right signature, refuses a second concurrent connection, and closes with 1000 when a binary ' +
      'keep-alive goes unanswered',
    async () => {
      const first = await connect(sim.signalingUrl);
      first.ws.send(handshake(sign('sec', 'm1', 's1')));
      await until(() => first.messages.length > 0);
      expect(first.messages[0]!.msg).toMatchObject({
        msg_type: 2,
        status_code: 0,
        media_server: { server_urls: { all: sim.mediaUrl } },
      });

      const second = await connect(sim.signalingUrl);
      second.ws.send(handshake(sign('sec', 'm1', 's1')));
      expect(await second.closed).toBe(1000);
      expect(sim.stream('s1')).toMatchObject({ connections: 1, refusedConcurrent: 1, maxConcurrent: 1 });

      // Never answered: the keep-alive (a binary frame) times out and the socket is closed normally.
      expect(await first.closed).toBe(1000);
      expect(first.messages.some((m) => m.msg.msg_type === 12 && m.binary)).toBe(true);
      expect(sim.stats().keepAliveTimeouts).toBe(1);
    },
  );
});
