import { dismiss, useToasts } from '../toasts.js';

export function Toasts() {
  const toasts = useToasts();
  return (
    <div className="toasts" role="status" aria-live="polite">
      {toasts.map((t) => (
        <div key={t.id} className={`toast toast-${t.level}`} data-testid="toast" onClick={() => dismiss(t.id)}>
          {t.title !== undefined && <strong>{t.title}</strong>}
          <span>{t.body}</span>
        </div>
      ))}
    </div>
  );
}
