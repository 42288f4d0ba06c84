import { useState, type FormEvent } from 'react';
import type { Role } from '@lectern/client';
import { devToken, DevSignInUnavailable, type Identity } from '../identity.js';

/** Development sign-in: a name and a role, a token from the server's development endpoint. */
export function SignIn({ onSignedIn }: { onSignedIn: (identity: Identity) => void }) {
  const [name, setName] = useState('');
  const [role, setRole] = useState<Role>('learner');
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const { user } = await devToken({ name: name.trim(), role });
      onSignedIn({ id: user.id, name: user.name, role: user.role });
    } catch (err) {
      setError(
        err instanceof DevSignInUnavailable
          ? 'Development sign-in is off on this server (production, or JWT_SECRET is set). Open this app from your platform, which passes ?token=…'
          : err instanceof Error
            ? err.message
            : 'sign-in failed',
      );
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="sign-in">
      <form className="card" onSubmit={submit}>
        <h1>Lectern</h1>
        <p className="muted">Development sign-in: pick a name and a role.</p>
        <label>
          Name
          <input data-testid="signin-name" autoFocus required maxLength={100} value={name} onChange={(e) => setName(e.target.value)} />
        </label>
        <fieldset className="roles-pick">
          <legend>Role</legend>
          {(['learner', 'instructor', 'moderator'] as const).map((r) => (
            <label key={r} className="radio">
              <input type="radio" name="role" value={r} data-testid={`signin-role-${r}`} checked={role === r} onChange={() => setRole(r)} /> {r}
            </label>
          ))}
        </fieldset>
        {error !== undefined && <p className="banner banner-error">{error}</p>}
        <button type="submit" data-testid="signin-submit" disabled={busy || name.trim() === ''}>
          Sign in
        </button>
      </form>
    </div>
  );
}
