/**
 * Counts WebSocket frames in a byte stream by their headers (RFC 6455 section
 * 5.2) without touching payloads: the least a relay that knows where frames
 * begin and end must do. Headers may be split across reads.
 */
export class FrameBoundaryCounter {
  /** Frames whose header has been read. */
  frames = 0;
  /** Payload bytes of the current frame not yet seen. */
  private payloadLeft = 0;
  /** The start of a header split across reads. */
  private partialHeader: Buffer | undefined;

  feed(chunk: Buffer): void {
    let bytes = chunk;
    if (this.partialHeader) {
      bytes = Buffer.concat([this.partialHeader, chunk]);
      this.partialHeader = undefined;
    }
    let at = 0;
    while (at < bytes.length) {
      if (this.payloadLeft > 0) {
        const take = Math.min(this.payloadLeft, bytes.length - at);
        this.payloadLeft -= take;
        at += take;
        continue;
      }
      const header = frameHeaderLength(bytes, at);
      if (header === undefined) {
        this.partialHeader = Buffer.from(bytes.subarray(at));
        return;
      }
      this.frames += 1;
      this.payloadLeft = header.payloadLength;
      at += header.headerLength;
    }
  }
}

/** Header and payload length of the frame at `at`, or undefined when its header is not complete yet. */
function frameHeaderLength(bytes: Buffer, at: number): { headerLength: number; payloadLength: number } | undefined {
  const available = bytes.length - at;
  if (available < 2) return undefined;
  const second = bytes[at + 1] ?? 0;
  const maskBytes = (second & 0x80) === 0 ? 0 : 4;
  const shortLength = second & 0x7f;
  if (shortLength < 126) {
    return available < 2 + maskBytes ? undefined : { headerLength: 2 + maskBytes, payloadLength: shortLength };
  }
  if (shortLength === 126) {
    return available < 4 + maskBytes ? undefined : { headerLength: 4 + maskBytes, payloadLength: bytes.readUInt16BE(at + 2) };
  }
  // 64-bit length; the bench never sends frames near 2^53 bytes.
  return available < 10 + maskBytes ? undefined : { headerLength: 10 + maskBytes, payloadLength: Number(bytes.readBigUInt64BE(at + 2)) };
}
