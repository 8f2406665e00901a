// Before joining: a preview of one's camera, microphone and camera on or off, and (for
// people without an account) the name others will see.
import { useCallback, useEffect, useRef, useState, type ReactNode } from "react";
import { ApiError } from "../api/client";
import { ErrorNote } from "../app/ui";
import { useI18n } from "../i18n";
import { openDevices, stopDevices, track, type Devices } from "./devices";
import { initials, Video } from "./Stage";
import "./meetings.css";

/** The devices for the pre-join screen: opened on mount, stopped on unmount unless
 * ``keep()`` was called (the meeting took them over). */
export function useDevices(): [Devices | null, (d: Devices) => void, () => void] {
  const [devices, setDevices] = useState<Devices | null>(null);
  const kept = useRef({ handedOver: false, stream: null as MediaStream | null });
  useEffect(() => {
    let alive = true;
    const own = kept.current;
    void openDevices().then(({ stream, problem }) => {
      if (!alive) return stopDevices(stream);
      own.stream = stream;
      setDevices({ stream, problem, mic: !!track(stream, "audio"), camera: !!track(stream, "video") });
    });
    return () => {
      alive = false;
      if (!own.handedOver) stopDevices(own.stream);
    };
  }, []);
  const keep = useCallback(() => {
    kept.current.handedOver = true;
  }, []);
  return [devices, setDevices, keep];
}

export function PreJoin({
  subject,
  who,
  askName,
  name,
  onName,
  devices,
  onDevices,
  onJoin,
  busy,
  error,
  extra,
}: {
  subject: string | null;
  /** the signed-in person's name (null: joining without an account) */
  who: string | null;
  askName: boolean;
  name: string;
  onName: (n: string) => void;
  devices: Devices | null;
  onDevices: (d: Devices) => void;
  onJoin: () => void;
  busy: boolean;
  error: ApiError | null;
  extra?: ReactNode;
}) {
  const { t } = useI18n();
  const [nameError, setNameError] = useState(false);
  const audio = track(devices?.stream ?? null, "audio");
  const video = track(devices?.stream ?? null, "video");

  useEffect(() => {
    if (audio) audio.enabled = !!devices?.mic;
    if (video) video.enabled = !!devices?.camera;
  }, [audio, video, devices?.mic, devices?.camera]);

  const problem = devices?.problem;
  return (
    <section className="card prejoin" aria-labelledby="prejoin-title">
      <h1 id="prejoin-title">{subject ?? t("meetings.prejoin.title")}</h1>
      <p className="muted">{who ? t("meetings.prejoin.as", { name: who }) : t("meetings.prejoin.choose")}</p>
      <div className="preview">
        {devices === null ? (
          <p className="muted" aria-busy="true">{t("meetings.prejoin.starting")}</p>
        ) : video && devices.camera ? (
          <Video stream={devices.stream!} mirrored label={t("meetings.prejoin.preview")} />
        ) : (
          <div className="avatar" aria-hidden="true">
            {initials(who ?? (name || "?"))}
          </div>
        )}
      </div>
      {problem && (
        <p className="note" role="status">
          {t(problem === "denied" ? "meetings.devices.denied" : problem === "unsupported" ? "meetings.devices.unsupported" : "meetings.devices.none")}
        </p>
      )}
      {devices && (
        <div className="row device-toggles" role="group" aria-label={t("meetings.prejoin.devices")}>
          <label className="check switch">
            <input
              type="checkbox"
              role="switch"
              checked={devices.mic && !!audio}
              disabled={!audio}
              onChange={(e) => onDevices({ ...devices, mic: e.target.checked })}
            />
            {t("meetings.prejoin.mic")}
          </label>
          <label className="check switch">
            <input
              type="checkbox"
              role="switch"
              checked={devices.camera && !!video}
              disabled={!video}
              onChange={(e) => onDevices({ ...devices, camera: e.target.checked })}
            />
            {t("meetings.prejoin.camera")}
          </label>
        </div>
      )}
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (askName && !name.trim()) {
            setNameError(true);
            return;
          }
          onJoin();
        }}
      >
        {askName && (
          <label>
            {t("meetings.prejoin.name")}
            <input
              value={name}
              maxLength={100}
              autoComplete="name"
              aria-invalid={nameError}
              aria-describedby={nameError ? "prejoin-name-error" : undefined}
              onChange={(e) => {
                setNameError(false);
                onName(e.target.value);
              }}
            />
          </label>
        )}
        {nameError && (
          <p id="prejoin-name-error" className="error" role="alert">
            {t("meetings.prejoin.name_needed")}
          </p>
        )}
        <ErrorNote error={error} />
        <button className="primary join" type="submit" disabled={busy}>
          {busy ? t("meetings.prejoin.joining") : t("meetings.prejoin.join")}
        </button>
      </form>
      {extra}
    </section>
  );
}
