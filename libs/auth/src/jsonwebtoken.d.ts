/**
 * The part of jsonwebtoken 9 that Lectern uses. @types/jsonwebtoken is not installed, and
 * these few lines keep it that way; nothing here is re-exported, so consumers of @lectern/auth
 * never need them.
 */
declare module 'jsonwebtoken' {
  import type { KeyObject } from 'node:crypto';

  namespace jsonwebtoken {
    interface VerifyOptions {
      algorithms?: string[];
      clockTimestamp?: number;
      clockTolerance?: number;
      ignoreExpiration?: boolean;
      ignoreNotBefore?: boolean;
    }
    interface SignOptions {
      algorithm?: string;
    }
    class JsonWebTokenError extends Error {}
    class TokenExpiredError extends JsonWebTokenError {}
    class NotBeforeError extends JsonWebTokenError {}
    function verify(token: string, key: KeyObject, options: VerifyOptions): unknown;
    function sign(payload: object, key: KeyObject, options: SignOptions): string;
  }
  export = jsonwebtoken;
}
