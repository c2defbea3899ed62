/**
 * `--node-relay`: the floor of a WebSocket relay in Node, measured beside the
 * gateway. It is not a product path and is never used outside the bench.
 *
 * It answers the station's upgrade itself once the CPMS accepted the same
 * key and subprotocol, then copies the bytes of each read to the other socket
 * unchanged (client frames stay masked, RFC 6455 section 5.3 allows any
 * masking key) and counts frames by their headers. No ws, no inspection, no
 * pings, no outage handling: what is left is Node's own per-read and
 * per-write cost plus the kernel's, which no Node relay can go below. The
 * gateway's distance to it is what the gateway's own work (ws framing,
 * inspection, the call lane) costs.
 *
 * argv: <upstream url> (the data dir argument of the gateway is ignored)
 */
import { createHash } from 'node:crypto';
import { createServer, request, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { reportStartFailure, serveBench } from './child-ipc.js';
import { FrameBoundaryCounter } from './frame-boundary-counter.js';

/** RFC 6455 section 1.3: the GUID the accept key is derived with. */
const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

const fromStations = new FrameBoundaryCounter();
const fromCpms = new FrameBoundaryCounter();
let linksOpen = 0;

function acceptKey(key: string): string {
  return createHash('sha1').update(key + WEBSOCKET_GUID).digest('base64');
}

function relay(station: Socket, stationHead: Buffer, cpms: Socket, cpmsHead: Buffer): void {
  linksOpen += 1;
  station.setNoDelay(true);
  cpms.setNoDelay(true);
  const toCpms = (chunk: Buffer): void => {
    fromStations.feed(chunk);
    cpms.write(chunk);
  };
  const toStation = (chunk: Buffer): void => {
    fromCpms.feed(chunk);
    station.write(chunk);
  };
  station.on('data', toCpms);
  cpms.on('data', toStation);
  if (stationHead.length > 0) toCpms(stationHead);
  if (cpmsHead.length > 0) toStation(cpmsHead);
  let open = true;
  const end = (): void => {
    if (open) linksOpen -= 1;
    open = false;
    station.destroy();
    cpms.destroy();
  };
  for (const socket of [station, cpms]) {
    socket.once('close', end);
    socket.on('error', end);
  }
}

function onUpgrade(upstreamUrl: URL, incoming: IncomingMessage, station: Socket, stationHead: Buffer): void {
  const key = incoming.headers['sec-websocket-key'];
  if (typeof key !== 'string') {
    station.destroy();
    return;
  }
  const stationId = (incoming.url ?? '').split('/').pop() ?? '';
  const outgoing = request({
    host: upstreamUrl.hostname,
    port: upstreamUrl.port,
    path: `${upstreamUrl.pathname}/${stationId}`,
    headers: {
      Connection: 'Upgrade',
      Upgrade: 'websocket',
      'Sec-WebSocket-Version': '13',
      'Sec-WebSocket-Key': key,
      ...(incoming.headers['sec-websocket-protocol'] ? { 'Sec-WebSocket-Protocol': incoming.headers['sec-websocket-protocol'] } : {}),
    },
  });
  outgoing.on('upgrade', (response, cpms, cpmsHead) => {
    if (response.headers['sec-websocket-accept'] !== acceptKey(key)) {
      cpms.destroy();
      station.destroy();
      return;
    }
    const protocol = response.headers['sec-websocket-protocol'];
    station.write(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptKey(key)}\r\n${
        protocol ? `Sec-WebSocket-Protocol: ${protocol}\r\n` : ''
      }\r\n`,
    );
    relay(station, stationHead, cpms, cpmsHead);
  });
  outgoing.on('response', () => station.destroy());
  outgoing.on('error', () => station.destroy());
  outgoing.end();
}

function main(): void {
  const [upstream] = process.argv.slice(2);
  if (!upstream) throw new Error('usage: node-relay-process <upstream url>');
  const upstreamUrl = new URL(upstream);
  const server = createServer((_request, response) => response.writeHead(426).end());
  server.on('upgrade', (incoming: IncomingMessage, socket: Socket, head: Buffer) => onUpgrade(upstreamUrl, incoming, socket, head));
  server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    serveBench(typeof address === 'object' && address ? address.port : 0, {
      counters: () => ({ framesFromStations: fromStations.frames, framesFromCpms: fromCpms.frames, stationsConnected: linksOpen }),
      stop: () => new Promise((resolve) => server.close(() => resolve())),
    });
  });
}

try {
  main();
} catch (error: unknown) {
  reportStartFailure(error);
}
