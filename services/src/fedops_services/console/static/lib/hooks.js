import { useState, useEffect, useRef, useCallback } from "./html.js";

export const LIVE_INTERVAL_MS = 2000; // the console is live: nothing shown is older than this

/**
 * Load `fetcher()` now, then every `intervalMs` while the tab is visible, and again when any of
 * `deps` changes. Returns {data, error, loading, reload}. A slow answer never overlaps the next
 * poll: the next one is scheduled when the previous one ends.
 */
export function usePoll(fetcher, deps = [], intervalMs = LIVE_INTERVAL_MS) {
  const [state, setState] = useState({ data: undefined, error: null, loading: true });
  const latest = useRef(fetcher);
  latest.current = fetcher;
  // Every load (a scheduled tick or a reload after an action) takes the next number; only the
  // latest load started may set the state, so an older answer that arrives last (a tick that
  // began before an action) cannot bring back what the page showed before. A change of `deps`
  // also takes a number, which discards whatever was in flight for the previous ones.
  const sequence = useRef(0);

  const load = useCallback(async () => {
    const mine = ++sequence.current;
    try {
      const data = await latest.current();
      if (mine === sequence.current) setState({ data, error: null, loading: false });
    } catch (error) {
      if (mine === sequence.current) setState((previous) => ({ ...previous, error, loading: false }));
    }
  }, []);

  useEffect(() => {
    sequence.current += 1;
    setState({ data: undefined, error: null, loading: true });
    let timer = null;
    let stopped = false;
    const tick = async () => {
      if (stopped) return;
      if (!document.hidden) await load();
      if (!stopped && intervalMs) timer = setTimeout(tick, intervalMs);
    };
    tick();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, deps);

  return { ...state, reload: load };
}

/** The current location hash as a path ("#/tasks/x" -> "/tasks/x"), updated on navigation. */
export function useHashPath() {
  const read = () => (location.hash.replace(/^#/, "") || "/tasks");
  const [path, setPath] = useState(read());
  useEffect(() => {
    const changed = () => setPath(read());
    addEventListener("hashchange", changed);
    return () => removeEventListener("hashchange", changed);
  }, []);
  return path;
}

export function navigate(path) {
  location.hash = "#" + path;
}
