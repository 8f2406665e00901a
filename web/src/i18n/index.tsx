// Every string the client shows goes through t(). English is the source; Dutch must have
// every key (the type says so), and the language follows the browser until one is chosen.
import { createContext, useCallback, useContext, useMemo, useState, type ReactNode } from "react";
import { en } from "./en";
import { nl } from "./nl";

export type Key = keyof typeof en;
export type Lang = "en" | "nl";
export const LANGS: Record<Lang, string> = { en: "English", nl: "Nederlands" };
const DICTS: Record<Lang, Record<Key, string>> = { en, nl };
const STORED = "overleg.lang";

export type T = (key: Key, vars?: Record<string, string | number>) => string;

function initial(): Lang {
  const stored = localStorage.getItem(STORED);
  if (stored === "en" || stored === "nl") return stored;
  return navigator.language.toLowerCase().startsWith("nl") ? "nl" : "en";
}

export function translate(lang: Lang, key: Key, vars?: Record<string, string | number>): string {
  const text = DICTS[lang][key] ?? en[key];
  if (!vars) return text;
  return text.replace(/\{(\w+)\}/g, (m, name: string) =>
    name in vars ? String(vars[name]) : m,
  );
}

interface I18n {
  lang: Lang;
  setLang: (l: Lang) => void;
  t: T;
}

const Ctx = createContext<I18n | null>(null);

export function I18nProvider({ children }: { children: ReactNode }) {
  const [lang, setLangState] = useState<Lang>(initial);
  document.documentElement.lang = lang;
  const setLang = useCallback((l: Lang) => {
    localStorage.setItem(STORED, l);
    setLangState(l);
  }, []);
  const t = useCallback<T>((key, vars) => translate(lang, key, vars), [lang]);
  const value = useMemo(() => ({ lang, setLang, t }), [lang, setLang, t]);
  return <Ctx.Provider value={value}>{children}</Ctx.Provider>;
}

export function useI18n(): I18n {
  const v = useContext(Ctx);
  if (!v) throw new Error("useI18n outside I18nProvider");
  return v;
}
