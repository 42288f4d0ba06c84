/** A tiny toast store: components push, the `Toasts` view shows the last few for a while. */
import { useSyncExternalStore } from 'react';

export interface Toast {
  id: number;
  level: 'info' | 'success' | 'warning' | 'error';
  title?: string;
  body: string;
}

const MAX_VISIBLE = 4;
const SHOW_MS = 5000;
let toasts: Toast[] = [];
let nextId = 0;
const listeners = new Set<() => void>();
const emit = () => listeners.forEach((l) => l());

export function toast(body: string, level: Toast['level'] = 'info', title?: string): void {
  const item: Toast = { id: ++nextId, level, body, ...(title !== undefined ? { title } : {}) };
  toasts = [...toasts, item].slice(-MAX_VISIBLE);
  emit();
  setTimeout(() => dismiss(item.id), SHOW_MS);
}

export function dismiss(id: number): void {
  if (!toasts.some((t) => t.id === id)) return;
  toasts = toasts.filter((t) => t.id !== id);
  emit();
}

export function useToasts(): Toast[] {
  return useSyncExternalStore(
    (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    () => toasts,
  );
}
