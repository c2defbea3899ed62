import QRCode from 'qrcode';

/**
 * The claim QR code (docs/provisioning.md "The claim QR code"), drawn by the
 * `qrcode` library: for a terminal (two modules per character cell, so it
 * fits an 80-column console) and as SVG (for a label or a page). Error
 * correction M: a label that is scuffed or photographed at an angle still
 * reads, and a claim URL stays a small code.
 */
export function claimQrForTerminal(url: string): Promise<string> {
  return QRCode.toString(url, { type: 'terminal', small: true, errorCorrectionLevel: 'M' });
}

export function claimQrAsSvg(url: string): Promise<string> {
  return QRCode.toString(url, { type: 'svg', errorCorrectionLevel: 'M', margin: 4 });
}
