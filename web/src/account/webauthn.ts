// The browser's side of passkeys: the server's options (WebAuthn's JSON form) go through
// PublicKeyCredential.parse…FromJSON into navigator.credentials, and the credential comes
// back as credential.toJSON(). Failures become a PasskeyError with a reason to show.
import type { Key } from "../i18n";

export type PasskeyFailure = "cancelled" | "exists" | "unsupported" | "failed";

export class PasskeyError extends Error {
  constructor(readonly reason: PasskeyFailure) {
    super(reason);
  }
}

/** What to tell the person about a failure. */
export const FAILURE_TEXT: Record<PasskeyFailure, Key> = {
  cancelled: "account.passkey.cancelled",
  exists: "account.passkey.exists",
  unsupported: "account.passkey.unsupported",
  failed: "account.passkey.failed",
};

/** Whether this browser can do passkeys the way Overleg asks for them. */
export function passkeysSupported(): boolean {
  const pkc = (globalThis as { PublicKeyCredential?: typeof PublicKeyCredential }).PublicKeyCredential;
  return (
    typeof pkc === "function" &&
    typeof pkc.parseCreationOptionsFromJSON === "function" &&
    typeof pkc.parseRequestOptionsFromJSON === "function" &&
    !!navigator.credentials
  );
}

type Json = Record<string, unknown>;

function failureOf(e: unknown): PasskeyError {
  if (e instanceof PasskeyError) return e;
  const name = e instanceof DOMException ? e.name : "";
  if (name === "NotAllowedError" || name === "AbortError") return new PasskeyError("cancelled");
  if (name === "InvalidStateError") return new PasskeyError("exists");
  if (name === "NotSupportedError" || name === "SecurityError") return new PasskeyError("unsupported");
  return new PasskeyError("failed");
}

/** navigator.credentials.create with the server's creation options; the new credential. */
export async function createPasskey(options: Json): Promise<Json> {
  if (!passkeysSupported()) throw new PasskeyError("unsupported");
  try {
    const publicKey = PublicKeyCredential.parseCreationOptionsFromJSON(
      options as unknown as PublicKeyCredentialCreationOptionsJSON,
    );
    const credential = await navigator.credentials.create({ publicKey });
    if (!(credential instanceof PublicKeyCredential)) throw new PasskeyError("cancelled");
    return credential.toJSON() as Json;
  } catch (e) {
    throw failureOf(e);
  }
}

/** navigator.credentials.get with the server's request options; the signed assertion. */
export async function getPasskey(options: Json): Promise<Json> {
  if (!passkeysSupported()) throw new PasskeyError("unsupported");
  try {
    const publicKey = PublicKeyCredential.parseRequestOptionsFromJSON(
      options as unknown as PublicKeyCredentialRequestOptionsJSON,
    );
    const credential = await navigator.credentials.get({ publicKey });
    if (!(credential instanceof PublicKeyCredential)) throw new PasskeyError("cancelled");
    return credential.toJSON() as Json;
  } catch (e) {
    throw failureOf(e);
  }
}
