import t from 'tap';
import { randomBytes } from 'node:crypto';
import { scanFrameHeader } from '../src/ocpp/frame-header.js';
import { parseFrame } from '../src/ocpp/parse-frame.js';

t.test('the header scanner reads type, id and action straight from the bytes', async (t) => {
  t.same(scanFrameHeader(Buffer.from('[2,"abc","Heartbeat",{}]')), { ok: true, header: { messageType: 2, id: 'abc', action: 'Heartbeat' } });
  t.same(scanFrameHeader(Buffer.from(' [ 3 ,\n "id-é" , {"x":1} ] ')), { ok: true, header: { messageType: 3, id: 'id-é' } });
  t.same(scanFrameHeader(Buffer.from('[4,"e1","NotImplemented","",{}]')), { ok: true, header: { messageType: 4, id: 'e1' } });
  t.same(scanFrameHeader(Buffer.from('[6,"s1","NotifyPeriodicEventStream",{}]')), { ok: true, header: { messageType: 6, id: 's1', action: 'NotifyPeriodicEventStream' } });
  t.same(scanFrameHeader(Buffer.from('{"a":1}')), { ok: false, reason: 'not a JSON array' });
  t.same(scanFrameHeader(Buffer.from(`[2,"${'x'.repeat(37)}","Heartbeat",{}]`)), { ok: false, reason: 'message id length 37 outside 1..36' });
  t.equal(scanFrameHeader(Buffer.from('[2,"a\\"b","Heartbeat",{}]')), undefined, 'escapes: left to the full parser');
  t.equal(scanFrameHeader(Buffer.from('[2.5,"a","Heartbeat",{}]')), undefined, 'odd types: left to the full parser');
  t.equal(scanFrameHeader(Buffer.from('[2,"a"')), undefined, 'truncated: left to the full parser');
});

t.test('the full parser classifies every OCPP-J message type and rejects what is not OCPP-J', async (t) => {
  t.match(parseFrame('[2,"a","Heartbeat",{}]'), { ok: true, frame: { messageType: 2, id: 'a', action: 'Heartbeat', payload: {} } });
  t.match(parseFrame('[3,"a",{"currentTime":"x"}]'), { ok: true, frame: { messageType: 3, payload: { currentTime: 'x' } } });
  t.match(parseFrame('[4,"a","GenericError","boom",{}]'), { ok: true, frame: { messageType: 4, errorCode: 'GenericError' } });
  t.match(parseFrame('[5,"a","GenericError","boom",{}]'), { ok: true, frame: { messageType: 5 } });
  t.match(parseFrame('[9,"a",{}]'), { ok: true, frame: { messageType: 9, unknownType: true } });
  for (const bad of ['', 'null', '[]', '["2","a","X",{}]', '[2,5,"X",{}]', '[2,"a",5,{}]', '[2,"a","X"]', '[3,"a"]', '[4,"a","c",{}]', '[2,"","X",{}]']) {
    t.equal(parseFrame(bad).ok, false, `rejects ${JSON.stringify(bad)}`);
  }
});

t.test('randomised: wherever the scanner answers, it agrees with the full parser', async (t) => {
  const actions = ['Heartbeat', 'BootNotification', 'MeterValues', 'DataTransfer'];
  const blanks = ['', ' ', '\n', '\t ', '\r\n'];
  const pick = <T>(items: readonly T[]): T => items[randomBytes(1)[0]! % items.length]!;
  let compared = 0;
  for (let i = 0; i < 2000; i += 1) {
    const type = pick([2, 3, 4, 6]);
    const id = randomBytes(1 + (randomBytes(1)[0]! % 20)).toString('base64url');
    const b = (): string => pick(blanks);
    const body =
      type === 2 || type === 6
        ? `${b()}"${pick(actions)}"${b()},${b()}{"n":${i}}`
        : type === 3
          ? `${b()}{"n":${i}}`
          : `${b()}"GenericError"${b()},${b()}"d"${b()},${b()}{}`;
    const text = `${b()}[${b()}${type}${b()},${b()}"${id}"${b()},${body}${b()}]${b()}`;
    const scanned = scanFrameHeader(Buffer.from(text));
    const full = parseFrame(text);
    if (!scanned || !full.ok) {
      t.fail(`both should read ${JSON.stringify(text)}`);
      continue;
    }
    if (!scanned.ok) {
      t.fail(`scanner rejected ${JSON.stringify(text)}`);
      continue;
    }
    compared += 1;
    const expectedAction = 'action' in full.frame ? full.frame.action : undefined;
    if (scanned.header.messageType !== full.frame.messageType || scanned.header.id !== full.frame.id || scanned.header.action !== expectedAction) {
      t.fail(`disagree on ${JSON.stringify(text)}`);
    }
  }
  t.equal(compared, 2000, 'all 2000 random frames read identically by both');
});
