// Signing in, step by step: password; then the second factor (a code from the
// authenticator app or a recovery code); or, where the organisation requires one and the
// person has none, setting up the app (QR code from the server) and keeping recovery codes;
// and a new password when an admin set a temporary one.
import { useEffect, useState, type FormEvent } from "react";
import { PasskeySignInButton, UsePasskey } from "../account/PasskeySignIn";
import { api, ApiError, setCsrfToken, type Schemas } from "../api/client";
import { LANGS, useI18n, type Lang } from "../i18n";
import { ErrorNote } from "./ui";

export type Step = "credentials" | "mfa" | "enrol" | "password";

export function SignIn({ step: initial, onDone }: { step: Step; onDone: () => void }) {
  const { t, lang, setLang } = useI18n();
  const [step, setStep] = useState<Step>(initial);
  const [codes, setCodes] = useState<string[] | null>(null);
  useEffect(() => {
    setStep(initial);
  }, [initial]);

  const after = (r: Schemas["SignInResponse"]) => {
    setCsrfToken(r.csrf_token);
    if (r.status === "mfa_required") setStep("mfa");
    else if (r.status === "mfa_enrolment_required") setStep("enrol");
    else if (r.must_change_password) setStep("password");
    else onDone();
  };

  return (
    <main className="signin">
      <div className="card signin-card">
        <div className="brand-row">
          <img src="/favicon.svg" alt="" width={32} height={32} />
          <span className="brand">Overleg</span>
          <label className="lang">
            <span className="sr-only">{t("lang.choose")}</span>
            <select value={lang} onChange={(e) => setLang(e.target.value as Lang)}>
              {Object.entries(LANGS).map(([k, v]) => (
                <option key={k} value={k}>
                  {v}
                </option>
              ))}
            </select>
          </label>
        </div>
        {codes ? (
          <RecoveryCodes codes={codes} onDone={() => (setCodes(null), onDone())} />
        ) : step === "credentials" ? (
          <>
            <Credentials onAnswer={after} />
            <PasskeySignInButton onAnswer={after} />
          </>
        ) : step === "mfa" ? (
          <SecondFactor onAnswer={after} />
        ) : step === "enrol" ? (
          <Enrol onCodes={setCodes} />
        ) : (
          <NewPassword onDone={onDone} />
        )}
      </div>
    </main>
  );
}

function useSubmit() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const run = async (work: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    try {
      await work();
    } catch (e) {
      setError(e instanceof ApiError ? e : new ApiError(0, "offline", ""));
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, run };
}

function Credentials({ onAnswer }: { onAnswer: (r: Schemas["SignInResponse"]) => void }) {
  const { t } = useI18n();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [tenant, setTenant] = useState("");
  const [guest, setGuest] = useState(false);
  const { busy, error, run } = useSubmit();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void run(async () =>
      onAnswer(
        await api.post("/api/v1/auth/sign-in", {
          body: { email, password, tenant: guest && tenant ? tenant : null },
        }),
      ),
    );
  };
  return (
    <form onSubmit={submit} aria-labelledby="signin-title">
      <h1 id="signin-title">{t("signin.title")}</h1>
      <label>
        {t("signin.email")}
        <input type="email" autoComplete="username" required value={email} onChange={(e) => setEmail(e.target.value)} />
      </label>
      <label>
        {t("signin.password")}
        <input type="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} />
      </label>
      <label className="check">
        <input type="checkbox" checked={guest} onChange={(e) => setGuest(e.target.checked)} />
        {t("signin.guest")}
      </label>
      {guest && (
        <label>
          {t("signin.tenant")}
          <input required value={tenant} onChange={(e) => setTenant(e.target.value)} />
        </label>
      )}
      <ErrorNote error={error} />
      <button className="primary" disabled={busy}>
        {busy ? t("state.working") : t("signin.submit")}
      </button>
    </form>
  );
}

function SecondFactor({ onAnswer }: { onAnswer: (r: Schemas["SignInResponse"]) => void }) {
  const { t } = useI18n();
  const [recovery, setRecovery] = useState(false);
  const [code, setCode] = useState("");
  const { busy, error, run } = useSubmit();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const body = recovery ? { recovery_code: code.trim() } : { code: code.replace(/\s/g, "") };
    void run(async () => onAnswer(await api.post("/api/v1/auth/mfa", { body })));
  };
  return (
    <form onSubmit={submit} aria-labelledby="mfa-title">
      <h1 id="mfa-title">{t("mfa.title")}</h1>
      <UsePasskey onAnswer={onAnswer} />
      <p className="muted">{recovery ? t("mfa.recovery_hint") : t("mfa.code_hint")}</p>
      <label>
        {recovery ? t("mfa.recovery_code") : t("mfa.code")}
        <input
          autoFocus
          required
          value={code}
          onChange={(e) => setCode(e.target.value)}
          autoComplete="one-time-code"
          inputMode={recovery ? "text" : "numeric"}
          pattern={recovery ? undefined : "[0-9 ]{6,7}"}
        />
      </label>
      <ErrorNote error={error} />
      <button className="primary" disabled={busy}>
        {t("mfa.verify")}
      </button>
      <button type="button" className="link" onClick={() => (setRecovery(!recovery), setCode(""))}>
        {recovery ? t("mfa.use_code") : t("mfa.use_recovery")}
      </button>
    </form>
  );
}

function Enrol({ onCodes }: { onCodes: (codes: string[]) => void }) {
  const { t } = useI18n();
  const [setup, setSetup] = useState<Schemas["TotpEnrolment"] | null>(null);
  const [code, setCode] = useState("");
  const { busy, error, run } = useSubmit();
  useEffect(() => {
    void run(async () => setSetup(await api.post("/api/v1/me/mfa/totp")));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void run(async () => {
      const r = await api.post("/api/v1/me/mfa/totp/activate", { body: { code: code.replace(/\s/g, "") } });
      onCodes(r.codes);
    });
  };
  return (
    <form onSubmit={submit} aria-labelledby="enrol-title">
      <h1 id="enrol-title">{t("enrol.title")}</h1>
      <p className="muted">{t("enrol.hint")}</p>
      {setup ? (
        <>
          <img className="qr" src={setup.qr_png} alt={t("enrol.qr_alt")} width={200} height={200} />
          <details>
            <summary>{t("enrol.manual")}</summary>
            <code className="secret" aria-label={t("enrol.secret")}>{setup.secret}</code>
          </details>
          <label>
            {t("mfa.code")}
            <input required value={code} onChange={(e) => setCode(e.target.value)} inputMode="numeric" autoComplete="one-time-code" />
          </label>
        </>
      ) : (
        <p aria-busy="true" className="muted">{t("state.loading")}</p>
      )}
      <ErrorNote error={error} />
      <button className="primary" disabled={busy || !setup}>
        {t("enrol.activate")}
      </button>
    </form>
  );
}

function RecoveryCodes({ codes, onDone }: { codes: string[]; onDone: () => void }) {
  const { t } = useI18n();
  return (
    <div aria-labelledby="codes-title">
      <h1 id="codes-title">{t("codes.title")}</h1>
      <p className="muted">{t("codes.hint")}</p>
      <ul className="codes">
        {codes.map((c) => (
          <li key={c}>
            <code>{c}</code>
          </li>
        ))}
      </ul>
      <button className="primary" onClick={onDone}>
        {t("codes.done")}
      </button>
    </div>
  );
}

function NewPassword({ onDone }: { onDone: () => void }) {
  const { t } = useI18n();
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const { busy, error, run } = useSubmit();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void run(async () => {
      await api.post("/api/v1/me/password", { body: { current_password: current, new_password: next } });
      onDone();
    });
  };
  return (
    <form onSubmit={submit} aria-labelledby="pw-title">
      <h1 id="pw-title">{t("password.title")}</h1>
      <p className="muted">{t("password.hint")}</p>
      <label>
        {t("password.current")}
        <input type="password" autoComplete="current-password" required value={current} onChange={(e) => setCurrent(e.target.value)} />
      </label>
      <label>
        {t("password.new")}
        <input type="password" autoComplete="new-password" required minLength={12} value={next} onChange={(e) => setNext(e.target.value)} />
      </label>
      <ErrorNote error={error} />
      <button className="primary" disabled={busy}>
        {t("password.save")}
      </button>
    </form>
  );
}
