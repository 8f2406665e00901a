// The client's own paths, on the History API (the server answers every such path with
// the app). Paths: /, /signin, /t/<team>/<channel>[/files], /files.
import { useEffect, useState } from "react";

const listeners = new Set<() => void>();

export function navigate(to: string, replace = false): void {
  if (to === location.pathname) return;
  if (replace) history.replaceState(null, "", to);
  else history.pushState(null, "", to);
  listeners.forEach((l) => l());
}

addEventListener("popstate", () => listeners.forEach((l) => l()));

/** The current path, split on "/" (re-rendering on every navigation). */
export function useRoute(): string[] {
  const [path, setPath] = useState(location.pathname);
  useEffect(() => {
    const update = () => setPath(location.pathname);
    listeners.add(update);
    return () => {
      listeners.delete(update);
    };
  }, []);
  return path.split("/").filter(Boolean).map(decodeURIComponent);
}
