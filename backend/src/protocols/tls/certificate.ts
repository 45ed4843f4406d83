/** A server certificate as a person reads it, from its DER bytes (node's X509Certificate parses them). */
import { X509Certificate } from 'node:crypto';

export interface CertificateSummary {
  subject: string;
  issuer: string;
  /** subjectAltName as OpenSSL prints it: "DNS:example.test, IP Address:127.0.0.1". */
  san: string;
  /** ISO 8601 (UTC). */
  notBefore: string;
  notAfter: string;
  /** Outside its validity at the handshake's capture time (expired, or not yet valid). */
  expired: boolean;
  /** Issued by itself: the issuer is the subject and its own key verifies its signature. */
  selfSigned: boolean;
}

/** X509Certificate prints distinguished names a component a line. */
const oneLine = (dn: string) => dn.split('\n').filter((s) => s !== '').join(', ');

/** Null when the bytes are not a certificate OpenSSL accepts. */
export function summarise(der: Buffer, atUs: number): CertificateSummary | null {
  let c: X509Certificate;
  try {
    c = new X509Certificate(der);
  } catch {
    return null;
  }
  const from = Date.parse(c.validFrom);
  const to = Date.parse(c.validTo);
  const at = atUs / 1000;
  let selfSigned = false;
  try {
    selfSigned = c.checkIssued(c) && c.verify(c.publicKey);
  } catch {
    // A key type OpenSSL cannot verify with: not provably self-signed.
  }
  return {
    subject: oneLine(c.subject),
    issuer: oneLine(c.issuer),
    san: c.subjectAltName ?? '',
    notBefore: Number.isNaN(from) ? '' : new Date(from).toISOString(),
    notAfter: Number.isNaN(to) ? '' : new Date(to).toISOString(),
    expired: at < from || at > to,
    selfSigned,
  };
}

export function certificateText(c: CertificateSummary): string {
  const marks = [c.expired ? 'EXPIRED' : '', c.selfSigned ? 'self-signed' : ''].filter((m) => m !== '').join(', ');
  return `subject: ${c.subject}; issuer: ${c.issuer}${c.san ? `; SAN: ${c.san}` : ''}; valid ${c.notBefore} to ${c.notAfter}${marks ? ` (${marks})` : ''}`;
}
