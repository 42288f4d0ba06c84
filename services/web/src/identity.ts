/**
 * Who is signed in, and where tokens come from. In development the server mints tokens at
 * `POST /dev/token`; a platform that embeds Lectern links to the app with `?token=JWT`
 * instead. Kept in sessionStorage so two tabs can be two different people.
 */
import type { Role, TokenRequest } from '@lectern/client';

export interface Identity {
  id: string;
  name: string;
  role: Role;
  /** A token handed over in the URL (platform sign-in); none in development. */
  token?: string;
}

const KEY = 'lectern.identity';

export function loadIdentity(): Identity | undefined {
  const fromUrl = new URLSearchParams(location.search).get('token');
  if (fromUrl !== null) {
    const identity = identityFromToken(fromUrl);
    if (identity !== undefined) {
      saveIdentity(identity);
      history.replaceState(null, '', location.pathname);
      return identity;
    }
  }
  try {
    const raw = sessionStorage.getItem(KEY);
    return raw === null ? undefined : (JSON.parse(raw) as Identity);
  } catch {
    return undefined;
  }
}

export function saveIdentity(identity: Identity | undefined): void {
  if (identity === undefined) sessionStorage.removeItem(KEY);
  else sessionStorage.setItem(KEY, JSON.stringify(identity));
}

function identityFromToken(token: string): Identity | undefined {
  try {
    const claims = JSON.parse(atob(token.split('.')[1]!.replace(/-/g, '+').replace(/_/g, '/'))) as { sub?: string; name?: string; role?: Role };
    if (typeof claims.sub !== 'string') return undefined;
    return { id: claims.sub, name: claims.name ?? claims.sub, role: claims.role ?? 'learner', token };
  } catch {
    return undefined;
  }
}

export class DevSignInUnavailable extends Error {}

/** Asks the development endpoint for a token. Throws `DevSignInUnavailable` when the server has it off. */
export async function devToken(request: { name: string; role: Role; id?: string }): Promise<{ token: string; user: { id: string; name: string; role: Role } }> {
  const response = await fetch('/dev/token', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(request),
  });
  if (response.status === 404) throw new DevSignInUnavailable('development sign-in is off on this server');
  if (!response.ok) throw new Error(`sign-in failed (${response.status})`);
  return (await response.json()) as { token: string; user: { id: string; name: string; role: Role } };
}

/**
 * The client's `getToken`: a platform token as given, or a fresh development token for the same
 * user every time one is needed. A development server makes a new secret when it restarts, so
 * the old token would be refused; asking again on every (re)connect keeps the session going.
 */
export function tokenSource(identity: Identity): (request: TokenRequest) => Promise<string> {
  return async () => {
    if (identity.token !== undefined) return identity.token;
    const { token } = await devToken({ name: identity.name, role: identity.role, id: identity.id });
    return token;
  };
}

export function socketUrl(): string {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
}
