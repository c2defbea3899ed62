import type QRCodeModule from 'qrcode';
import { lazyModule } from '../util/lazy-module.js';

/** The QR encoder is needed only while the gateway is unclaimed. */
const loadQrCode = lazyModule<typeof QRCodeModule>('qrcode');

/**
 * The claim QR code (docs/provisioning.md "The claim QR code"), drawn by the
 * `qrcode` library: for a terminal (two modules per character cell, so it
 * fits an 80-column console), for the console login screen, and as SVG (for
 * a label or a page). Error
 * correction M: a label that is scuffed or photographed at an angle still
 * reads, and a claim URL stays a small code.
 */
export function claimQrForTerminal(url: string): Promise<string> {
  return loadQrCode().toString(url, { type: 'terminal', small: true, errorCorrectionLevel: 'M' });
}

/**
 * For the console login screen (console-issue.ts): plain half-block
 * characters, no ANSI colours (agetty copies an issue file to a console that
 * may be a serial line). A console draws light characters on a dark
 * background, so the light modules and the 4-module quiet zone are the drawn
 * characters (█ ▀ ▄) and the dark modules are the background (spaces): the
 * code reads dark on light, as a QR code must, on a light-on-dark console.
 * (`qrcode` picks these inverted blocks when the dark colour is white.)
 */
export function claimQrForConsole(url: string): Promise<string> {
  return loadQrCode().toString(url, { type: 'utf8', errorCorrectionLevel: 'M', margin: 4, color: { dark: '#ffffff', light: '#000000' } });
}

export function claimQrAsSvg(url: string): Promise<string> {
  return loadQrCode().toString(url, { type: 'svg', errorCorrectionLevel: 'M', margin: 4 });
}
