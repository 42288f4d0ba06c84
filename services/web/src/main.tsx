import { StrictMode, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { LecternProvider, useLectern } from '@lectern/react';
import { Toasts } from './components/Toasts.js';
import { loadIdentity, saveIdentity, socketUrl, tokenSource, type Identity } from './identity.js';
import { Home } from './pages/Home.js';
import { SessionPage } from './pages/SessionPage.js';
import { SignIn } from './pages/SignIn.js';
import { TestPage } from './pages/TestPage.js';
import { navigate, parseRoute, usePath } from './router.js';
import './styles.css';

function Connected({ identity, onSignOut }: { identity: Identity; onSignOut: () => void }) {
  const { client } = useLectern({ url: socketUrl(), getToken: tokenSource(identity), reconnect: { baseMs: 500, capMs: 8000 } });
  const route = parseRoute(usePath());
  // Exposed for the browser tests and for poking at from the console.
  (window as { lectern?: unknown }).lectern = client;
  return (
    <LecternProvider client={client}>
      {route.page === 'session' ? (
        <SessionPage key={route.id} id={route.id} />
      ) : route.page === 'test' ? (
        <TestPage />
      ) : route.page === 'home' ? (
        <Home onSignOut={onSignOut} />
      ) : (
        <div className="card narrow">
          <p>Nothing here.</p>
          <button onClick={() => navigate('/')}>Home</button>
        </div>
      )}
      <Toasts />
    </LecternProvider>
  );
}

function App() {
  const [identity, setIdentity] = useState<Identity | undefined>(loadIdentity);
  if (identity === undefined) {
    return (
      <>
        <SignIn
          onSignedIn={(signedIn) => {
            saveIdentity(signedIn);
            setIdentity(signedIn);
          }}
        />
        <Toasts />
      </>
    );
  }
  return (
    <Connected
      key={identity.id}
      identity={identity}
      onSignOut={() => {
        saveIdentity(undefined);
        setIdentity(undefined);
      }}
    />
  );
}

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
