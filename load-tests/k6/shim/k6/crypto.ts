import { createHmac } from 'node:crypto';
export function hmac(algorithm: string, secret: string, data: string, encoding: string): string {
  const digest = createHmac(algorithm, secret).update(data);
  if (encoding === 'base64rawurl') return digest.digest('base64url');
  if (encoding === 'hex' || encoding === 'base64') return digest.digest(encoding);
  throw new Error(`k6 shim: hmac encoding ${encoding} not supported`);
}
