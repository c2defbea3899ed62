import t from 'tap';
import { connectRawStation, startRawCpms } from './helpers/raw-peers.js';
import { startTestGateway, stationEndpoint } from './helpers/test-gateway.js';

const ODD_FRAMES = [
  '[2 , "odd-1" ,\t"DataTransfer" , {"vendorId":"Pleevi","data":"  spaced  "} ]',
  '[2,"utf-2","DataTransfer",{"vendorId":"Pleevi","data":"Grüße aus Köln, 充電, 🚗⚡"}]',
  '[2,"esc-3","DataTransfer",{"vendorId":"Pleevi","data":"\\u00e9\\n\\"quoted\\""}]',
  '[2,"big-4","DataTransfer",{"vendorId":"Pleevi","data":1.50000,"n":-0,"e":1E3}]',
];

t.test('relays oddly formatted, non-ASCII and binary frames byte for byte, both ways', async (t) => {
  // The CPMS answers each call ([3,"<id>",{}]): the station's calls go one at a time.
  const cpms = await startRawCpms({ echoCalls: true });
  t.teardown(() => cpms.close());
  const gateway = await startTestGateway(t, { upstreamUrl: cpms.url });
  const arriving = cpms.nextConnection();
  const station = await connectRawStation(`${stationEndpoint(gateway)}/CP%2A%7C@x=1+2`);
  t.teardown(() => station.socket.terminate());
  const atCpms = await arriving;
  t.equal(atCpms.path, '/ocpp/CP*%7C%40x%3D1%2B2', 'station id decoded then percent-encoded again for the CPMS');

  const binary = Buffer.from([0x00, 0xff, 0x10, 0x80, 0x7f]);
  for (const frame of ODD_FRAMES) station.socket.send(frame);
  station.socket.send(binary, { binary: true });
  const upward = await atCpms.waitFor(ODD_FRAMES.length + 1);
  ODD_FRAMES.forEach((frame, index) => {
    t.ok(upward[index]?.data.equals(Buffer.from(frame)), `frame ${index} arrived byte-identical`);
    t.equal(upward[index]?.isBinary, false, `frame ${index} stayed a text frame`);
  });
  t.ok(upward[ODD_FRAMES.length]?.data.equals(binary), 'binary frame arrived byte-identical');
  t.equal(upward[ODD_FRAMES.length]?.isBinary, true, 'binary frame stayed binary');

  const downward = ['[3, "odd-1", {"status":"Accepted"} ]', '[2,"cpms-é","DataTransfer",{"vendorId":"Ä","data":"\\ud83d\\ude97"}]'];
  for (const frame of downward) atCpms.socket.send(frame);
  const back = (await station.waitFor(ODD_FRAMES.length + downward.length)).filter((frame) => !/^\[3,"[^"]+",\{\}\]$/.test(frame.data.toString()));
  downward.forEach((frame, index) => t.ok(back[index]?.data.equals(Buffer.from(frame)), `CPMS frame ${index} arrived byte-identical`));
  t.equal(gateway.metrics.malformedFrames, 1, 'only the binary frame counts as malformed OCPP-J');
});

t.test('frames toward the station arrive byte for byte and in order at every length encoding', async (t) => {
  // RFC 6455 section 5.2: 7-bit lengths up to 125, 16-bit up to 65535, 64-bit beyond;
  // small frames are framed by the link itself, large ones by ws.
  const cpms = await startRawCpms();
  t.teardown(() => cpms.close());
  const gateway = await startTestGateway(t, { upstreamUrl: cpms.url });
  const arriving = cpms.nextConnection();
  const station = await connectRawStation(`${stationEndpoint(gateway)}/CP-LENGTHS`);
  t.teardown(() => station.socket.terminate());
  const atCpms = await arriving;
  const sizes = [0, 1, 125, 126, 127, 16_383, 16_384, 16_385, 65_535, 65_536, 70_000];
  const frames = sizes.map((size, index) => {
    const text = Buffer.alloc(size, 0x61 + (index % 26));
    return { data: index % 3 === 2 ? text.map((byte, at) => (byte + at) & 0xff) : text, isBinary: index % 3 === 2 };
  });
  for (const frame of frames) atCpms.socket.send(frame.data, { binary: frame.isBinary });
  const back = await station.waitFor(frames.length);
  frames.forEach((frame, index) => {
    t.ok(back[index]?.data.equals(frame.data), `${sizes[index]}-byte frame arrived byte-identical`);
    t.equal(back[index]?.isBinary, frame.isBinary, `${sizes[index]}-byte frame kept its type`);
  });
});

t.test('frames sent the instant each socket opens are neither lost nor reordered', async (t) => {
  const greeting = Array.from({ length: 5 }, (_, i) => `[2,"g${i}","TriggerMessage",{"requestedMessage":"StatusNotification"}]`);
  // The CPMS answers: the station's calls go one at a time, each once the previous is answered.
  const cpms = await startRawCpms({ greeting, echoCalls: true });
  t.teardown(() => cpms.close());
  const gateway = await startTestGateway(t, { upstreamUrl: cpms.url });
  const arriving = cpms.nextConnection();
  const early = Array.from({ length: 20 }, (_, i) => `[2,"e${i}","Heartbeat",{}]`);
  const station = await connectRawStation(`${stationEndpoint(gateway)}/CP-EARLY`, ['ocpp1.6'], early);
  t.teardown(() => station.socket.terminate());
  const atCpms = await arriving;
  const got = await atCpms.waitFor(early.length);
  t.same(got.map((frame) => frame.data.toString()), early, 'station frames from the first tick, in order');
  const down = await station.waitFor(greeting.length + early.length);
  t.same(down.map((frame) => frame.data.toString()).filter((frame) => frame.startsWith('[2,')), greeting, 'CPMS frames sent during the handshake, in order');
});

t.test('a burst of calls arrives in order and every reply comes back', async (t) => {
  const cpms = await startRawCpms({ echoCalls: true });
  t.teardown(() => cpms.close());
  const gateway = await startTestGateway(t, { upstreamUrl: cpms.url });
  const arriving = cpms.nextConnection();
  const station = await connectRawStation(`${stationEndpoint(gateway)}/CP-BURST`);
  t.teardown(() => station.socket.terminate());
  const atCpms = await arriving;
  const burst = Array.from({ length: 1000 }, (_, i) => `[2,"b${i}","MeterValues",{"connectorId":1,"meterValue":[]}]`);
  for (const frame of burst) station.socket.send(frame);
  const got = await atCpms.waitFor(burst.length);
  t.same(got.map((frame) => frame.data.toString()), burst, '1000 frames in order');
  const replies = await station.waitFor(burst.length);
  t.same(
    replies.map((frame) => frame.data.toString()),
    burst.map((_, i) => `[3,"b${i}",{}]`),
    'replies in order',
  );
});

t.test('malformed and oversized frames from one station do not disturb the others', async (t) => {
  const cpms = await startRawCpms({ echoCalls: true });
  t.teardown(() => cpms.close());
  const gateway = await startTestGateway(t, { upstreamUrl: cpms.url, maxFrameBytes: 4096 });

  const arrivingBad = cpms.nextConnection();
  const bad = await connectRawStation(`${stationEndpoint(gateway)}/CP-BAD`);
  const badAtCpms = await arrivingBad;
  const arrivingGood = cpms.nextConnection();
  const good = await connectRawStation(`${stationEndpoint(gateway)}/CP-GOOD`);
  t.teardown(() => good.socket.terminate());
  await arrivingGood;

  const garbage = ['this is not json', '[2,"only-two"]', '{"an":"object"}', '[9,"future-type",{}]', '[2,"' + 'x'.repeat(40) + '","Heartbeat",{}]'];
  for (const frame of garbage) bad.socket.send(frame);
  const relayed = await badAtCpms.waitFor(garbage.length);
  t.same(relayed.map((frame) => frame.data.toString()), garbage, 'frames that do not parse are still relayed, unchanged');
  t.equal(gateway.metrics.malformedFrames, 4, 'four of them are malformed OCPP-J (an unknown type 9 is not)');

  bad.socket.send(`[2,"huge","DataTransfer",{"vendorId":"x","data":"${'x'.repeat(8192)}"}]`);
  const closed = await bad.closed;
  t.equal(closed.code, 1009, 'oversized frame: the sender is closed with 1009 (message too big)');
  t.equal(gateway.metrics.oversizedFrames, 1, 'oversized frame counted');

  good.socket.send('[2,"still-1","Heartbeat",{}]');
  const reply = await good.waitFor(1);
  t.equal(reply[0]?.data.toString(), '[3,"still-1",{}]', 'the other station keeps working');
  t.equal(gateway.isConnected('CP-GOOD'), true);
  t.equal(gateway.isConnected('CP-BAD'), false);
});

t.test('close codes are mirrored', async (t) => {
  const cpms = await startRawCpms();
  t.teardown(() => cpms.close());
  const gateway = await startTestGateway(t, { upstreamUrl: cpms.url });

  let arriving = cpms.nextConnection();
  const first = await connectRawStation(`${stationEndpoint(gateway)}/CP-CLOSE-1`);
  let atCpms = await arriving;
  atCpms.socket.close(4001, 'rejected by CPMS');
  t.same(await first.closed, { code: 4001, reason: 'rejected by CPMS' }, 'CPMS close code and reason reach the station');

  arriving = cpms.nextConnection();
  const second = await connectRawStation(`${stationEndpoint(gateway)}/CP-CLOSE-2`);
  atCpms = await arriving;
  const upstreamClosed = new Promise<{ code: number; reason: string }>((resolve) =>
    atCpms.socket.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  second.socket.close(1000, 'bye');
  t.same(await upstreamClosed, { code: 1000, reason: 'bye' }, 'station close code and reason reach the CPMS');
});

t.test('a station that reconnects replaces its old connection', async (t) => {
  const cpms = await startRawCpms({ echoCalls: true });
  t.teardown(() => cpms.close());
  const gateway = await startTestGateway(t, { upstreamUrl: cpms.url });
  let arriving = cpms.nextConnection();
  const old = await connectRawStation(`${stationEndpoint(gateway)}/CP-TWICE`);
  const oldAtCpms = await arriving;
  const oldUpstreamClosed = new Promise<number>((resolve) => oldAtCpms.socket.once('close', (code) => resolve(code)));
  arriving = cpms.nextConnection();
  const fresh = await connectRawStation(`${stationEndpoint(gateway)}/CP-TWICE`);
  t.teardown(() => fresh.socket.terminate());
  await arriving;
  t.ok(await oldUpstreamClosed, 'the old upstream connection was closed');
  t.equal((await old.closed).code, 1008, 'the old station socket was closed');
  fresh.socket.send('[2,"n1","Heartbeat",{}]');
  t.equal((await fresh.waitFor(1))[0]?.data.toString(), '[3,"n1",{}]', 'the new connection relays');
  t.equal(gateway.status().stations.length, 1, 'one live link for the station');
});

t.test('permessage-deflate is negotiated upstream when the CPMS offers it', async (t) => {
  const { WebSocketServer } = await import('ws');
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: true, handleProtocols: () => 'ocpp1.6' });
  await new Promise((resolve) => server.once('listening', resolve));
  t.teardown(() => new Promise<void>((resolve) => {
    for (const client of server.clients) client.terminate();
    server.close(() => resolve());
  }));
  const port = (server.address() as import('node:net').AddressInfo).port;
  const extensions = new Promise<string>((resolve) =>
    server.once('connection', (socket, request) => {
      socket.on('message', (data) => socket.send(data));
      resolve(String(request.headers['sec-websocket-extensions'] ?? '') + ' => ' + socket.extensions);
    }),
  );
  const gateway = await startTestGateway(t, { upstreamUrl: `ws://127.0.0.1:${port}/ocpp` });
  const station = await connectRawStation(`${stationEndpoint(gateway)}/CP-DEFLATE`);
  t.teardown(() => station.socket.terminate());
  t.match(await extensions, /permessage-deflate.* => permessage-deflate/, 'the gateway offered compression and the CPMS accepted it');
  const frame = `[2,"z1","DataTransfer",{"vendorId":"Pleevi","data":"${'compressible '.repeat(200)}"}]`;
  station.socket.send(frame);
  const echoed = await station.waitFor(1);
  t.equal(echoed[0]?.data.toString(), frame, 'a compressed round trip keeps the bytes');
});

t.test('a station that stops reading is closed instead of buffering without bound', async (t) => {
  const cpms = await startRawCpms();
  t.teardown(() => cpms.close());
  const gateway = await startTestGateway(t, { upstreamUrl: cpms.url, maxBufferedBytes: 256 * 1024 });
  const arriving = cpms.nextConnection();
  const station = await connectRawStation(`${stationEndpoint(gateway)}/CP-STUCK`);
  const atCpms = await arriving;
  // The station's process hangs: it reads nothing, so the kernel buffers fill.
  (station.socket as unknown as { _socket: import('node:net').Socket })._socket.pause();
  const upstreamClosed = new Promise<number>((resolve) => atCpms.socket.once('close', (code) => resolve(code)));
  const chunk = `[2,"flood","DataTransfer",{"vendorId":"x","data":"${'y'.repeat(60_000)}"}]`;
  for (let i = 0; i < 400 && atCpms.socket.readyState === atCpms.socket.OPEN; i += 1) {
    atCpms.socket.send(chunk);
    await new Promise((resolve) => setImmediate(resolve));
  }
  t.equal(await upstreamClosed, 1013, 'the link was closed with 1013 (try again later)');
  t.equal(gateway.metrics.slowPeerCloses, 1);
  t.equal(gateway.isConnected('CP-STUCK'), false);
  station.socket.terminate();
});
