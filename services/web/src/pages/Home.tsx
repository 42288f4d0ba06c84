import { useState, type FormEvent } from 'react';
import { useConnectionStatus } from '@lectern/react';
import { ConnectionIndicator } from '../components/ConnectionIndicator.js';
import { navigate } from '../router.js';

export function Home({ onSignOut }: { onSignOut: () => void }) {
  const me = useConnectionStatus().user;
  const [session, setSession] = useState('demo');
  const go = (event: FormEvent) => {
    event.preventDefault();
    const id = session.trim().replace(/[^A-Za-z0-9_-]/g, '-');
    if (id !== '') navigate(`/session/${id}`);
  };
  return (
    <div className="home">
      <header className="topbar">
        <h1>Lectern</h1>
        <ConnectionIndicator />
      </header>
      <main className="card narrow">
        <p>
          Signed in as <b>{me?.name ?? '…'}</b> {me && <span className={`role role-${me.role}`}>{me.role}</span>}{' '}
          <button className="link" onClick={onSignOut}>
            sign out
          </button>
        </p>
        <form className="row" onSubmit={go}>
          <input aria-label="Session id" value={session} onChange={(e) => setSession(e.target.value)} />
          <button type="submit">Open session</button>
        </form>
        <p>
          <a
            href="/test"
            onClick={(e) => {
              e.preventDefault();
              navigate('/test');
            }}
          >
            Connection test page
          </a>
        </p>
      </main>
    </div>
  );
}
