// Where the person is signed in: every live session, this one marked; sign one out, or all
// the others at once.
import { useCallback, useEffect, useState } from "react";
import { api, type Schemas } from "../api/client";
import { useI18n, type T } from "../i18n";
import { when } from "../lib/format";
import { Note, useWork } from "./ui";

type Session = Schemas["SessionPublic"];

/** "Chrome on Linux" from a user agent string (enough to recognise one's devices). */
export function deviceOf(ua: string | null | undefined, t: T): string {
  if (!ua) return t("account.sessions.unknown_device");
  const browser = /Edg\//.test(ua)
    ? "Edge"
    : /Firefox\//.test(ua)
      ? "Firefox"
      : /Chrom(e|ium)\//.test(ua)
        ? "Chrome"
        : /Safari\//.test(ua)
          ? "Safari"
          : null;
  const os = /Windows/.test(ua)
    ? "Windows"
    : /Android/.test(ua)
      ? "Android"
      : /iPhone|iPad/.test(ua)
        ? "iOS"
        : /Mac OS X/.test(ua)
          ? "macOS"
          : /Linux|X11/.test(ua)
            ? "Linux"
            : null;
  if (browser && os) return t("account.sessions.device", { browser, os });
  return browser ?? os ?? ua.slice(0, 60);
}

export function Sessions({ say }: { say: (text: string) => void }) {
  const { t, lang } = useI18n();
  const [sessions, setSessions] = useState<Session[] | null>(null);
  const [confirming, setConfirming] = useState(false);
  const load = useWork();
  const act = useWork();

  const reload = useCallback(
    () => load.run(async () => setSessions(await api.get("/api/v1/me/sessions"))),
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [],
  );
  useEffect(() => {
    void reload();
  }, [reload]);

  const signOut = (s: Session) =>
    act.run(async () => {
      await api.del("/api/v1/me/sessions/{session_id}", { path: { session_id: s.id } });
      await reload();
    });
  const signOutOthers = () =>
    act.run(async () => {
      const r = await api.post("/api/v1/me/sessions/revoke-others");
      setConfirming(false);
      say(t("account.sessions.signed_out_others", { count: r.revoked ?? 0 }));
      await reload();
    });

  const others = (sessions ?? []).filter((s) => !s.current);
  return (
    <section className="account-section" aria-labelledby="account-sessions-title">
      <h2 id="account-sessions-title">{t("account.sessions.title")}</h2>
      <p className="muted">{t("account.sessions.hint")}</p>
      {sessions === null ? (
        load.error ? (
          <div>
            <Note error={load.error} />
            <button type="button" onClick={() => void reload()}>
              {t("action.retry")}
            </button>
          </div>
        ) : (
          <p className="muted" aria-busy="true">
            {t("state.loading")}
          </p>
        )
      ) : (
        <>
          <ul className="account-list">
            {sessions.map((s) => {
              const device = deviceOf(s.user_agent, t);
              const ip = s.ip ?? t("account.sessions.unknown_ip");
              return (
                <li key={s.id} className="account-item">
                  <div className="account-item-main">
                    <span className="account-item-name">
                      {device}
                      {s.current && <span className="badge account-badge-current">{t("account.sessions.this_device")}</span>}
                    </span>
                    <span className="muted small">
                      {ip} · {t("account.sessions.signed_in", { when: when(s.created_at, lang) })} ·{" "}
                      {s.state === "active"
                        ? t("account.sessions.last_seen", { when: when(s.last_seen_at, lang) })
                        : t("account.sessions.pending")}
                    </span>
                  </div>
                  {!s.current && (
                    <button
                      type="button"
                      disabled={act.busy}
                      aria-label={t("account.sessions.sign_out_named", { device, ip })}
                      onClick={() => void signOut(s)}
                    >
                      {t("account.sessions.sign_out")}
                    </button>
                  )}
                </li>
              );
            })}
          </ul>
          {others.length === 0 ? (
            <p className="muted">{t("account.sessions.none")}</p>
          ) : confirming ? (
            <div className="account-confirm" role="group" aria-label={t("account.sessions.sign_out_others")}>
              <p>{t("account.sessions.confirm_others")}</p>
              <div className="row">
                <button type="button" className="primary" disabled={act.busy} onClick={() => void signOutOthers()}>
                  {t("account.sessions.sign_out_others")}
                </button>
                <button type="button" onClick={() => setConfirming(false)}>
                  {t("action.cancel")}
                </button>
              </div>
            </div>
          ) : (
            <button type="button" onClick={() => setConfirming(true)}>
              {t("account.sessions.sign_out_others")}
            </button>
          )}
          <Note error={act.error} />
        </>
      )}
    </section>
  );
}
