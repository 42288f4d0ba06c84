/**
 * Byte formats of the internal bus messages, chosen so the gateway never parses or re-encodes
 * what the actor already encoded:
 *
 * - Reply to a command: `<JSON header>` or `<JSON header>\n<raw tail>`. The tail of a `joined`
 *   reply is the frame's JSON text after `{"type":"joined",` — the gateway glues its own
 *   prefix (with the request `id`) in front of it.
 * - Room event on `<prefix>.evt.<room>`: `<fromSeq>,<seq>\n<wire frame>`. For a single event
 *   fromSeq == seq; a `presence_diff` covers fromSeq..seq. The gateway reads the two numbers
 *   (for resume continuity) and passes the frame bytes to uWS untouched.
 */
import type { CommandReply } from './internal.js';

const NEWLINE = 0x0a;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeReply(reply: CommandReply, tail?: string): Uint8Array {
  const header = JSON.stringify(reply);
  return encoder.encode(tail === undefined ? header : `${header}\n${tail}`);
}

/**
 * The same format, with the tail given as byte chunks: a tail shared by many replies (the
 * room state of joins answered together) is encoded to UTF-8 once, not once per reply.
 */
export function encodeReplyWithTail(reply: CommandReply, tail: readonly Uint8Array[]): Uint8Array {
  const header = encoder.encode(`${JSON.stringify(reply)}\n`);
  let length = header.length;
  for (const chunk of tail) length += chunk.length;
  const out = new Uint8Array(length);
  out.set(header, 0);
  let offset = header.length;
  for (const chunk of tail) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

export interface DecodedReply {
  reply: CommandReply;
  /** Raw bytes after the header line, if any. */
  tail: Uint8Array | undefined;
}

export function decodeReply(bytes: Uint8Array): DecodedReply {
  const nl = bytes.indexOf(NEWLINE);
  if (nl < 0) return { reply: JSON.parse(decoder.decode(bytes)) as CommandReply, tail: undefined };
  return {
    reply: JSON.parse(decoder.decode(bytes.subarray(0, nl))) as CommandReply,
    tail: bytes.subarray(nl + 1),
  };
}

export function encodeEventMessage(fromSeq: number, seq: number, frame: string): Uint8Array {
  return encoder.encode(`${fromSeq},${seq}\n${frame}`);
}

export interface EventMessage {
  fromSeq: number;
  seq: number;
  /** The wire frame bytes (a view into the message). */
  frame: Uint8Array;
}

/** Reads the `<fromSeq>,<seq>\n` header without decoding the frame. */
export function decodeEventMessage(bytes: Uint8Array): EventMessage {
  let i = 0;
  let fromSeq = 0;
  let c = bytes[i];
  while (c !== undefined && c !== 0x2c) {
    fromSeq = fromSeq * 10 + (c - 0x30);
    c = bytes[++i];
  }
  let seq = 0;
  c = bytes[++i];
  while (c !== undefined && c !== NEWLINE) {
    seq = seq * 10 + (c - 0x30);
    c = bytes[++i];
  }
  return { fromSeq, seq, frame: bytes.subarray(i + 1) };
}
