/**
 * The peers' shape, measured beside the gateway: a public OCPP proxy a user
 * might pick instead is a `ws` WebSocketServer for the stations and one `ws`
 * client per station toward the CPMS, frames passed on as they come (some
 * JSON.parse every frame, to log or route it). It is not a product path and
 * is never used outside the bench.
 *
 * Like those proxies it accepts the station's handshake first and dials the
 * CPMS afterwards, holding the station's frames until the upstream is open;
 * it does not pass on the CPMS's refusal, has no limits, no pings, no outage
 * handling. ws defaults otherwise (permessage-deflate off on both sides, as
 * the bench CPMS and stations offer none).
 *
 * argv: <upstream url> [parse]  (`parse`: JSON.parse every frame both ways)
 */
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { reportStartFailure, serveBench } from './child-ipc.js';

let framesFromStations = 0;
let framesFromCpms = 0;
let framesUnparsable = 0;
let linksOpen = 0;

function start(): void {
  const [upstream, mode] = process.argv.slice(2);
  if (!upstream) throw new Error('usage: ws-relay-process <upstream url> [parse]');
  const parse = mode === 'parse';
  const base = upstream.replace(/\/+$/, '');
  const look = (data: RawData): void => {
    if (!parse) return;
    try {
      JSON.parse(data.toString());
    } catch {
      framesUnparsable += 1;
    }
  };
  const server = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    perMessageDeflate: false,
    handleProtocols: (offered) => offered.values().next().value ?? false,
  });
  server.on('connection', (station, request) => {
    const id = (request.url ?? '').split('/').pop() ?? '';
    const cpms = new WebSocket(`${base}/${id}`, station.protocol ? [station.protocol] : [], { perMessageDeflate: false });
    const held: Array<{ data: RawData; isBinary: boolean }> = [];
    linksOpen += 1;
    station.on('message', (data, isBinary) => {
      framesFromStations += 1;
      look(data);
      if (cpms.readyState === WebSocket.OPEN) cpms.send(data, { binary: isBinary });
      else held.push({ data, isBinary });
    });
    cpms.on('open', () => {
      for (const frame of held.splice(0)) cpms.send(frame.data, { binary: frame.isBinary });
    });
    cpms.on('message', (data, isBinary) => {
      framesFromCpms += 1;
      look(data);
      if (station.readyState === WebSocket.OPEN) station.send(data, { binary: isBinary });
    });
    let open = true;
    const end = (): void => {
      if (open) linksOpen -= 1;
      open = false;
      station.terminate();
      cpms.terminate();
    };
    for (const socket of [station, cpms]) {
      socket.once('close', end);
      socket.on('error', end);
    }
  });
  server.once('error', reportStartFailure);
  server.once('listening', () => {
    serveBench((server.address() as AddressInfo).port, {
      counters: () => ({ framesFromStations, framesFromCpms, framesUnparsable, stationsConnected: linksOpen }),
      stop: () =>
        new Promise<void>((resolve) => {
          for (const client of server.clients) client.terminate();
          server.close(() => resolve());
        }),
    });
  });
}

try {
  start();
} catch (error: unknown) {
  reportStartFailure(error);
}
