// Signing in with a passkey, for the sign-in page (app/SignIn.tsx):
// - PasskeySignInButton, under the password form: a passkey alone, where the person's
//   organisation allows it (its MFA policy; the server says so otherwise);
// - UsePasskey, in the second-factor step: the passkey as the second step after the
//   password. It shows only when the account has a passkey (it asks the server for a
//   challenge as it appears, so that the click goes straight to the browser's prompt).
// Both answer like the password form does: onAnswer gets the SignInResponse.
import { useCallback, useEffect, useState } from "react";
import { api, ApiError, type Schemas } from "../api/client";
import { useI18n } from "../i18n";
import { Note, useWork } from "./ui";
import { getPasskey, passkeysSupported } from "./webauthn";
import "./account.css";

type Answer = (r: Schemas["SignInResponse"]) => void;
type Options = Schemas["PasskeyOptions"]["options"];

export function PasskeySignInButton({ onAnswer }: { onAnswer: Answer }) {
  const { t } = useI18n();
  const { busy, error, run } = useWork();
  if (!passkeysSupported()) return null;
  const signIn = () =>
    run(async () => {
      const start = await api.post("/api/v1/auth/passkey/sign-in/options");
      const credential = await getPasskey(start.options);
      const body = { ceremony: start.ceremony, credential };
      onAnswer(await api.post("/api/v1/auth/passkey/sign-in", { body }));
    });
  return (
    <div className="passkey-alt">
      <p className="passkey-or">
        <span>{t("account.passkey.or")}</span>
      </p>
      <button type="button" className="passkey-button" disabled={busy} onClick={() => void signIn()}>
        <PasskeyIcon />
        {busy ? t("account.passkey.waiting") : t("account.passkey.use")}
      </button>
      <Note error={error} />
    </div>
  );
}

export function UsePasskey({ onAnswer }: { onAnswer: Answer }) {
  const { t } = useI18n();
  // undefined: being fetched; null: none (no passkey on the account, or no browser support)
  const [options, setOptions] = useState<Options | null | undefined>(undefined);
  const { busy, error, run } = useWork();

  const fetchOptions = useCallback(async (): Promise<Options | null> => {
    try {
      return (await api.post("/api/v1/auth/passkey/options")).options;
    } catch (e) {
      if (e instanceof ApiError && e.status === 409) return null; // no passkey here
      throw e;
    }
  }, []);

  useEffect(() => {
    let live = true;
    if (!passkeysSupported()) setOptions(null);
    else
      fetchOptions().then(
        (o) => live && setOptions(o),
        () => live && setOptions(undefined), // fetched again on the click
      );
    return () => {
      live = false;
    };
  }, [fetchOptions]);

  if (options === null) return null;
  const verify = () =>
    run(async () => {
      const ready = options ?? (await fetchOptions());
      setOptions(undefined); // a challenge works once
      if (!ready) throw new ApiError(409, "", t("account.passkey.unsupported"));
      let answer: Schemas["SignInResponse"];
      try {
        const credential = await getPasskey(ready);
        answer = await api.post("/api/v1/auth/mfa/passkey", { body: { credential } });
      } catch (e) {
        // ready for another try (the server has spent this challenge)
        fetchOptions().then((o) => setOptions(o), () => setOptions(undefined));
        throw e;
      }
      onAnswer(answer);
    });
  return (
    <div className="passkey-alt passkey-first">
      <button type="button" className="passkey-button" disabled={busy} onClick={() => void verify()}>
        <PasskeyIcon />
        {busy ? t("account.passkey.waiting") : t("account.passkey.use")}
      </button>
      <Note error={error} />
      <p className="passkey-or">
        <span>{t("account.passkey.or_code")}</span>
      </p>
    </div>
  );
}

/** A key, drawn inline (no image to fetch); decorative. */
export function PasskeyIcon() {
  return (
    <svg className="passkey-icon" viewBox="0 0 24 24" width="18" height="18" aria-hidden="true" focusable="false">
      <circle cx="8" cy="12" r="4" fill="none" stroke="currentColor" strokeWidth="2" />
      <path d="M12 12h9m-3 0v3m-3-3v2" fill="none" stroke="currentColor" strokeWidth="2" strokeLinecap="round" />
    </svg>
  );
}
