/**
 * Loads uWebSockets.js and refuses to run on its fallback.
 *
 * We use `@trufflesuite/uws-js-unofficial` 20.30 (docs/uwebsockets.md says why): it ships the
 * native binary for Node 20 on this glibc. When the binary fails to load it silently falls back
 * to a slow pure-JS implementation; a realtime gateway on that would be a lie, so we check
 * that `App` is native code and stop otherwise.
 */
import uWSModule from '@trufflesuite/uws-js-unofficial';
import type * as UWS from '@trufflesuite/uws-js-unofficial';

export type { HttpRequest, HttpResponse, TemplatedApp, WebSocket, us_listen_socket } from '@trufflesuite/uws-js-unofficial';

export const uWS = uWSModule as unknown as typeof UWS;

export function isNativeUws(): boolean {
  return typeof uWS.App === 'function' && /\[native code\]/.test(Function.prototype.toString.call(uWS.App));
}

export function assertNativeUws(): void {
  if (!isNativeUws()) {
    throw new Error(
      `uWebSockets.js did not load its native binary for Node ${process.versions.node} (ABI ${process.versions.modules}, ` +
        `${process.platform}-${process.arch}) and fell back to its slow JS implementation. ` +
        'Use Node.js 20 on linux-x64 or another platform that @trufflesuite/uws-js-unofficial ships a binary for.',
    );
  }
}
