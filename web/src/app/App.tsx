// The session decides the screen: signing in (each step of it), or the workspace.
import { useCallback, useEffect, useState } from "react";
import { api, ApiError, setCsrfToken, type Schemas } from "../api/client";
import { useI18n } from "../i18n";
import { useRoute } from "../lib/router";
import { JoinPage } from "../meetings/JoinPage";
import { Shell } from "./Shell";
import { SignIn, type Step } from "./SignIn";

type Me = Schemas["Me"];
type Session = { kind: "loading" } | { kind: "out"; step: Step } | { kind: "in"; me: Me };

function stepOf(me: Me): Step | null {
  if (me.session_state === "mfa_pending") return "mfa";
  if (me.session_state === "mfa_enrol") return "enrol";
  if (me.must_change_password) return "password";
  return null;
}

export function App() {
  const { t } = useI18n();
  const route = useRoute();
  const [session, setSession] = useState<Session>({ kind: "loading" });
  const [failed, setFailed] = useState<string | null>(null);

  const load = useCallback(async () => {
    try {
      const me = await api.get("/api/v1/me");
      setCsrfToken(me.csrf_token ?? null);
      const step = stepOf(me);
      setSession(step ? { kind: "out", step } : { kind: "in", me });
      setFailed(null);
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) setSession({ kind: "out", step: "credentials" });
      else setFailed(e instanceof ApiError && e.status ? e.message : t("error.offline"));
    }
  }, [t]);

  useEffect(() => {
    void load();
  }, [load]);

  // a meeting's link works without an account (the lobby decides who comes in)
  if ((route[0] === "join" || route[0] === "meet") && route[1]) return <JoinPage code={route[1]} />;
  if (failed)
    return (
      <main className="center">
        <div className="card" role="alert">
          <p>{failed}</p>
          <button onClick={() => void load()}>{t("action.retry")}</button>
        </div>
      </main>
    );
  if (session.kind === "loading")
    return (
      <main className="center" aria-busy="true">
        <p className="muted">{t("state.loading")}</p>
      </main>
    );
  if (session.kind === "out") return <SignIn step={session.step} onDone={() => void load()} />;
  return (
    <Shell
      me={session.me}
      onSignedOut={() => {
        setCsrfToken(null);
        setSession({ kind: "out", step: "credentials" });
      }}
    />
  );
}
