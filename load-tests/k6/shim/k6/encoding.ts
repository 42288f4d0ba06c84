export function b64encode(input: string, variant?: string): string {
  const b64 = Buffer.from(input).toString(variant === 'rawurl' || variant === 'url' ? 'base64url' : 'base64');
  return variant === 'url' ? b64 + '='.repeat((4 - (b64.length % 4)) % 4) : b64;
}
