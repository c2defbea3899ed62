/**
 * What enrollment and renewal report for `P/events/gateway` (CONTRACT 5,
 * docs/provisioning.md "Events and commands"). The loops only call
 * `onEvent`; publishing (seq, ts, the outbox) is the cloud link's job. No
 * event carries a secret: no claim code, no key, no configuration.
 */
export type ProvisioningEvent =
  | { readonly type: 'enrolled'; readonly gatewayId: string; readonly serialNumber: string; readonly notAfter: string }
  | { readonly type: 'enrollment-refused'; readonly gatewayId: string; readonly status: number | null; readonly code: string; readonly message: string }
  | { readonly type: 'certificate-renewed'; readonly gatewayId: string; readonly serialNumber: string; readonly notAfter: string; readonly previousSerialNumber: string }
  | {
      readonly type: 'certificate-renewal-failed';
      readonly gatewayId: string;
      readonly reason: 'refused' | 'unreachable' | 'invalid-answer' | 'error';
      readonly code: string;
      readonly message: string;
      /** The current certificate's, which stays in use. */
      readonly notAfter: string;
    };

export type ProvisioningEventSink = (event: ProvisioningEvent) => void;
