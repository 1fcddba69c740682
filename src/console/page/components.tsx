// Pieces every view uses: loading a resource, showing an error, a status, a copy button, a pager.
// Text from the server is only ever a child or an attribute value: rendered as text, never as HTML.
import { useCallback, useEffect, useRef, useState } from "hono/jsx/dom";
import type { Child } from "hono/jsx";
import { ApiError } from "./api.ts";

export interface Loaded<T> {
  data: T | undefined;
  error: Error | undefined;
  loading: boolean;
  reload: () => Promise<void>;
}

/** Runs `load` now and whenever `deps` change; a late answer for old deps is dropped. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): Loaded<T> {
  const [state, setState] = useState<{ data?: T; error?: Error; loading: boolean }>({ loading: true });
  const generation = useRef(0);
  const reload = useCallback(async () => {
    const mine = ++generation.current;
    setState((old) => ({ ...old, loading: true }));
    try {
      const data = await load();
      if (mine === generation.current) setState({ data, loading: false });
    } catch (error) {
      if (mine === generation.current) setState({ error: error as Error, loading: false });
    }
  }, deps);
  useEffect(() => {
    void reload();
  }, deps);
  return { data: state.data, error: state.error, loading: state.loading, reload };
}

/** Runs `work` on an action; its error is shown until the next action. */
export function useAction(): { busy: boolean; error: Error | undefined; run: (work: () => Promise<void>) => Promise<void>; clear: () => void } {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<Error | undefined>(undefined);
  const run = async (work: () => Promise<void>) => {
    setBusy(true);
    setError(undefined);
    try {
      await work();
    } catch (caught) {
      setError(caught as Error);
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, run, clear: () => setError(undefined) };
}

export function ErrorNote({ error }: { error: Error | undefined }) {
  if (!error) return null;
  const code = error instanceof ApiError ? `${error.code}: ` : "";
  return <p class="error" role="alert">{code}{error.message}</p>;
}

export function Loading<T>({ loaded, children }: { loaded: Loaded<T>; children: (data: T) => Child }) {
  if (loaded.error) return <ErrorNote error={loaded.error} />;
  if (loaded.data === undefined) return <p class="muted" aria-busy="true">Loading…</p>;
  return <>{children(loaded.data)}</>;
}

export function Status({ value }: { value: string | null | undefined }) {
  return <span class={`status status-${value ?? "none"}`}>{value ?? "—"}</span>;
}

export function CopyButton({ text, label = "Copy" }: { text: string; label?: string }) {
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    await navigator.clipboard?.writeText(text).catch(() => {});
    setCopied(true);
    setTimeout(() => setCopied(false), 1500);
  };
  return <button type="button" class="small" onClick={copy}>{copied ? "Copied" : label}</button>;
}

/** "Load more" for a list paged by cursor. */
export function Pager({ next, onMore }: { next: string | null | undefined; onMore: (cursor: string) => void }) {
  if (!next) return null;
  return <p><button type="button" onClick={() => onMore(next)}>Load more</button></p>;
}

/** A list paged by cursor: the pages loaded so far, one more on demand. */
export function usePaged<T>(load: (cursor: string | undefined) => Promise<{ items: T[]; next: string | null; extra?: unknown }>, deps: unknown[]) {
  const [items, setItems] = useState<T[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [extra, setExtra] = useState<unknown>(undefined);
  const [error, setError] = useState<Error | undefined>(undefined);
  const [loading, setLoading] = useState(true);
  const generation = useRef(0);
  const fetchPage = async (cursor: string | undefined) => {
    const mine = cursor === undefined ? ++generation.current : generation.current;
    setLoading(true);
    try {
      const page = await load(cursor);
      if (mine !== generation.current) return;
      setItems((old) => (cursor === undefined ? page.items : [...old, ...page.items]));
      setNext(page.next);
      if (cursor === undefined) setExtra(page.extra);
      setError(undefined);
    } catch (caught) {
      if (mine === generation.current) setError(caught as Error);
    } finally {
      if (mine === generation.current) setLoading(false);
    }
  };
  useEffect(() => {
    void fetchPage(undefined);
  }, deps);
  return { items, next, extra, error, loading, more: (cursor: string) => fetchPage(cursor), reload: () => fetchPage(undefined) };
}

/** Reading JSON a person typed: a clear error naming the field. */
export function parseJson(text: string, field: string): unknown {
  if (text.trim() === "") return undefined;
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error(`${field}: not valid JSON (${(error as Error).message})`);
  }
}
