/**
 * MQTT reason codes (5.0 §2.4) and 3.1.1 return codes, their names, and which side is at fault
 * when one reports a failure.
 */
import { Outcome } from '../../entries/entry.js';
import { PacketType } from './packet.js';

const V5_NAMES = new Map<number, string>([
  [0x00, 'Success'],
  [0x01, 'Granted QoS 1'],
  [0x02, 'Granted QoS 2'],
  [0x04, 'Disconnect with Will Message'],
  [0x10, 'No matching subscribers'],
  [0x11, 'No subscription existed'],
  [0x18, 'Continue authentication'],
  [0x19, 'Re-authenticate'],
  [0x80, 'Unspecified error'],
  [0x81, 'Malformed Packet'],
  [0x82, 'Protocol Error'],
  [0x83, 'Implementation specific error'],
  [0x84, 'Unsupported Protocol Version'],
  [0x85, 'Client Identifier not valid'],
  [0x86, 'Bad User Name or Password'],
  [0x87, 'Not authorized'],
  [0x88, 'Server unavailable'],
  [0x89, 'Server busy'],
  [0x8a, 'Banned'],
  [0x8b, 'Server shutting down'],
  [0x8c, 'Bad authentication method'],
  [0x8d, 'Keep Alive timeout'],
  [0x8e, 'Session taken over'],
  [0x8f, 'Topic Filter invalid'],
  [0x90, 'Topic Name invalid'],
  [0x91, 'Packet Identifier in use'],
  [0x92, 'Packet Identifier not found'],
  [0x93, 'Receive Maximum exceeded'],
  [0x94, 'Topic Alias invalid'],
  [0x95, 'Packet too large'],
  [0x96, 'Message rate too high'],
  [0x97, 'Quota exceeded'],
  [0x98, 'Administrative action'],
  [0x99, 'Payload format invalid'],
  [0x9a, 'Retain not supported'],
  [0x9b, 'QoS not supported'],
  [0x9c, 'Use another server'],
  [0x9d, 'Server moved'],
  [0x9e, 'Shared Subscriptions not supported'],
  [0x9f, 'Connection rate exceeded'],
  [0xa0, 'Maximum connect time'],
  [0xa1, 'Subscription Identifiers not supported'],
  [0xa2, 'Wildcard Subscriptions not supported'],
]);

/** 3.1.1 CONNACK return codes (§3.2.2.3). */
const V311_CONNACK = [
  'Connection Accepted',
  'Unacceptable protocol version',
  'Identifier rejected',
  'Server unavailable',
  'Bad user name or password',
  'Not authorized',
];

/** The name of `code` in a reply of `type` (the packet it answers: CONNECT, SUBSCRIBE, …) at 5.0 or not. */
export function reasonName(code: number, type: number, v5: boolean): string {
  if (!v5 && type === PacketType.CONNECT) return V311_CONNACK[code] ?? `return code ${code}`;
  if (type === PacketType.SUBSCRIBE && code <= 2) return `Granted QoS ${code}`;
  if (!v5 && code === 0x80) return 'Failure';
  if (code === 0 && type === PacketType.DISCONNECT) return 'Normal disconnection';
  return V5_NAMES.get(code) ?? `reason 0x${code.toString(16).padStart(2, '0')}`;
}

/** Reason codes that say the broker failed, not that the client asked wrongly. */
const SERVER_FAULTS = new Set([0x80, 0x83, 0x88, 0x89, 0x8b, 0x8e, 0x98, 0x9c, 0x9d, 0xa0]);

/** The outcome class of a failure `code` (≥ 0x80; 3.1.1 CONNACK: ≥ 1) in a reply to `type`. */
export function reasonOutcome(code: number, type: number, v5: boolean): Outcome {
  if (!v5 && type === PacketType.CONNECT) return code === 0 ? Outcome.ok : code === 3 ? Outcome.serverError : Outcome.clientError;
  if (code < 0x80) return Outcome.ok;
  return SERVER_FAULTS.has(code) ? Outcome.serverError : Outcome.clientError;
}
