/** The claim QR payload (docs/provisioning.md "The claim QR code"); undefined without `provisioning.claimBaseUrl`. */
export function claimUrl(claimBaseUrl: string | undefined, gatewayId: string, claimCode: string): string | undefined {
  if (claimBaseUrl === undefined) return undefined;
  // A configured base with a trailing slash must not give `//claim`.
  const base = claimBaseUrl.replace(/\/+$/, '');
  return `${base}/claim?gw=${encodeURIComponent(gatewayId)}&code=${encodeURIComponent(claimCode)}`;
}
