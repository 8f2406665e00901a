// The account area's strings, in English and Dutch (every English key must be in Dutch).
// Dutch follows the words the big platforms use there: a passkey is a "toegangssleutel".
const en = {
  "account.title": "My account",
  "account.intro": "How you sign in to Overleg, and where you are signed in.",

  // sessions
  "account.sessions.title": "Where you are signed in",
  "account.sessions.hint": "Sign out anywhere you do not recognise, and change your password if in doubt.",
  "account.sessions.none": "No other sessions.",
  "account.sessions.this_device": "This device",
  "account.sessions.signed_in": "Signed in {when}",
  "account.sessions.last_seen": "last active {when}",
  "account.sessions.pending": "waiting for the second step",
  "account.sessions.sign_out": "Sign out",
  "account.sessions.sign_out_named": "Sign out {device}, {ip}",
  "account.sessions.sign_out_others": "Sign out all other sessions",
  "account.sessions.confirm_others": "Sign out everywhere except on this device?",
  "account.sessions.signed_out_others": "Signed out of {count} other sessions.",
  "account.sessions.unknown_device": "Unknown device",
  "account.sessions.unknown_ip": "unknown address",
  "account.sessions.device": "{browser} on {os}",

  // the authenticator app
  "account.totp.title": "Authenticator app",
  "account.totp.on": "On. Sign-ins ask for a code from the app.",
  "account.totp.off": "Not set up. An app on your phone gives a new 6-digit code every 30 seconds.",
  "account.totp.set_up": "Set up the app",
  "account.totp.scan": "Scan this code with your authenticator app, then type the 6-digit code it shows.",
  "account.totp.turn_on": "Turn on",
  "account.totp.turn_off": "Turn off",
  "account.totp.confirm_off": "Turn off the authenticator app? Your recovery codes stop working too.",
  "account.totp.turned_off": "The authenticator app is off.",
  "account.recovery.title": "Recovery codes",
  "account.recovery.hint":
    "If you lose your phone or your passkeys, each recovery code lets you sign in once. New codes replace the old ones, which stop working.",
  "account.recovery.new": "New recovery codes",

  // passkeys
  "account.passkeys.title": "Passkeys",
  "account.passkeys.hint":
    "A passkey signs you in with your device's fingerprint, face or PIN instead of a code. It works only on this site, so it cannot be phished.",
  "account.passkeys.none": "You have no passkeys yet.",
  "account.passkeys.unsupported": "This browser cannot use passkeys. Try a recent version of Edge, Chrome, Firefox or Safari.",
  "account.passkeys.name": "Name of the new passkey",
  "account.passkeys.name_hint": "For example “Work laptop” or “Phone”, so that you can tell them apart.",
  "account.passkeys.add": "Add a passkey",
  "account.passkeys.added": "Passkey “{name}” added.",
  "account.passkeys.added_on": "Added {when}",
  "account.passkeys.last_used": "last used {when}",
  "account.passkeys.never_used": "not used yet",
  "account.passkeys.synced": "Synced",
  "account.passkeys.synced_hint": "Kept in a password manager, available on your other devices",
  "account.passkeys.rename": "Rename",
  "account.passkeys.rename_named": "Rename {name}",
  "account.passkeys.new_name": "New name for {name}",
  "account.passkeys.remove_named": "Remove {name}",
  "account.passkeys.confirm_remove": "Remove “{name}”? You can no longer sign in with it.",
  "account.passkeys.removed": "Passkey “{name}” removed.",
  "account.passkeys.list": "Your passkeys",

  // passkey prompts in the browser
  "account.passkey.use": "Use a passkey",
  "account.passkey.or": "or",
  "account.passkey.or_code": "or type a code",
  "account.passkey.waiting": "Follow your browser's prompt…",
  "account.passkey.cancelled": "The passkey prompt was closed or took too long. Try again.",
  "account.passkey.exists": "This device already holds a passkey for your account.",
  "account.passkey.unsupported": "This browser or device cannot use passkeys here.",
  "account.passkey.failed": "The passkey did not work. Try again, or use another way.",

  // confirming it's you before changing how you sign in
  "account.stepup.title": "Confirm it's you",
  "account.stepup.why": "Changing how you sign in needs a fresh confirmation.",
  "account.stepup.verify": "Confirm",

  "account.codes.copy": "Copy the codes",
  "account.codes.copied": "Copied.",
} as const;

const nl: Record<keyof typeof en, string> = {
  "account.title": "Mijn account",
  "account.intro": "Hoe u zich aanmeldt bij Overleg, en waar u bent aangemeld.",

  "account.sessions.title": "Waar u bent aangemeld",
  "account.sessions.hint": "Meld u af op plaatsen die u niet herkent, en wijzig bij twijfel uw wachtwoord.",
  "account.sessions.none": "Geen andere sessies.",
  "account.sessions.this_device": "Dit apparaat",
  "account.sessions.signed_in": "Aangemeld {when}",
  "account.sessions.last_seen": "laatst actief {when}",
  "account.sessions.pending": "wacht op de tweede stap",
  "account.sessions.sign_out": "Afmelden",
  "account.sessions.sign_out_named": "Afmelden: {device}, {ip}",
  "account.sessions.sign_out_others": "Alle andere sessies afmelden",
  "account.sessions.confirm_others": "Overal afmelden, behalve op dit apparaat?",
  "account.sessions.signed_out_others": "{count} andere sessies afgemeld.",
  "account.sessions.unknown_device": "Onbekend apparaat",
  "account.sessions.unknown_ip": "onbekend adres",
  "account.sessions.device": "{browser} op {os}",

  "account.totp.title": "Authenticator-app",
  "account.totp.on": "Aan. Bij het aanmelden wordt om een code uit de app gevraagd.",
  "account.totp.off": "Niet ingesteld. Een app op uw telefoon geeft elke 30 seconden een nieuwe code van 6 cijfers.",
  "account.totp.set_up": "App instellen",
  "account.totp.scan": "Scan deze code met uw authenticator-app en typ de 6-cijferige code die de app toont.",
  "account.totp.turn_on": "Inschakelen",
  "account.totp.turn_off": "Uitschakelen",
  "account.totp.confirm_off": "De authenticator-app uitschakelen? Uw herstelcodes werken dan ook niet meer.",
  "account.totp.turned_off": "De authenticator-app is uitgeschakeld.",
  "account.recovery.title": "Herstelcodes",
  "account.recovery.hint":
    "Bent u uw telefoon of uw toegangssleutels kwijt, dan kunt u zich met elke herstelcode één keer aanmelden. Nieuwe codes vervangen de oude; die werken dan niet meer.",
  "account.recovery.new": "Nieuwe herstelcodes",

  "account.passkeys.title": "Toegangssleutels (passkeys)",
  "account.passkeys.hint":
    "Met een toegangssleutel meldt u zich aan met de vingerafdruk, het gezicht of de pincode van uw apparaat in plaats van een code. Hij werkt alleen op deze site en kan dus niet worden buitgemaakt met phishing.",
  "account.passkeys.none": "U hebt nog geen toegangssleutels.",
  "account.passkeys.unsupported": "Deze browser kan geen toegangssleutels gebruiken. Probeer een recente versie van Edge, Chrome, Firefox of Safari.",
  "account.passkeys.name": "Naam van de nieuwe toegangssleutel",
  "account.passkeys.name_hint": "Bijvoorbeeld ‘Werklaptop’ of ‘Telefoon’, zodat u ze uit elkaar kunt houden.",
  "account.passkeys.add": "Toegangssleutel toevoegen",
  "account.passkeys.added": "Toegangssleutel ‘{name}’ toegevoegd.",
  "account.passkeys.added_on": "Toegevoegd {when}",
  "account.passkeys.last_used": "laatst gebruikt {when}",
  "account.passkeys.never_used": "nog niet gebruikt",
  "account.passkeys.synced": "Gesynchroniseerd",
  "account.passkeys.synced_hint": "Bewaard in een wachtwoordbeheerder, ook beschikbaar op uw andere apparaten",
  "account.passkeys.rename": "Naam wijzigen",
  "account.passkeys.rename_named": "Naam wijzigen: {name}",
  "account.passkeys.new_name": "Nieuwe naam voor {name}",
  "account.passkeys.remove_named": "Weghalen: {name}",
  "account.passkeys.confirm_remove": "‘{name}’ verwijderen? U kunt zich er dan niet meer mee aanmelden.",
  "account.passkeys.removed": "Toegangssleutel ‘{name}’ verwijderd.",
  "account.passkeys.list": "Uw toegangssleutels",

  "account.passkey.use": "Een toegangssleutel gebruiken",
  "account.passkey.or": "of",
  "account.passkey.or_code": "of typ een code",
  "account.passkey.waiting": "Volg de aanwijzingen van uw browser…",
  "account.passkey.cancelled": "Het venster voor de toegangssleutel is gesloten of duurde te lang. Probeer het opnieuw.",
  "account.passkey.exists": "Op dit apparaat staat al een toegangssleutel voor uw account.",
  "account.passkey.unsupported": "Deze browser of dit apparaat kan hier geen toegangssleutels gebruiken.",
  "account.passkey.failed": "De toegangssleutel werkte niet. Probeer het opnieuw of kies een andere manier.",

  "account.stepup.title": "Bevestig dat u het bent",
  "account.stepup.why": "Voor het wijzigen van de manier waarop u zich aanmeldt, is een nieuwe bevestiging nodig.",
  "account.stepup.verify": "Bevestigen",

  "account.codes.copy": "Codes kopiëren",
  "account.codes.copied": "Gekopieerd.",
};

export const account = { en, nl };
