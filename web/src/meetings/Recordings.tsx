// A meeting's recordings, for those the recording rules let see them: each recorded
// person's camera, screen and sound, played from the server with range requests (nothing
// is downloaded first). Download only where the policy and the owners allow it.
import { useEffect, useState } from "react";
import { api, ApiError, type Schemas } from "../api/client";
import { ErrorNote } from "../app/ui";
import { useI18n } from "../i18n";
import { when } from "../lib/format";

export function Recordings({ meetingId }: { meetingId: string }) {
  const { t, lang } = useI18n();
  const [list, setList] = useState<Schemas["RecordingPublic"][] | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  useEffect(() => {
    api
      .get("/api/v1/meetings/{meeting_id}/recordings", { path: { meeting_id: meetingId } })
      .then(setList, (e: ApiError) => setError(e));
  }, [meetingId]);
  return (
    <section className="page" aria-labelledby="recordings-title">
      <h1 id="recordings-title">{t("recordings.title")}</h1>
      <ErrorNote error={error} />
      {list === null ? (
        error ? null : <p className="muted" aria-busy="true">{t("state.loading")}</p>
      ) : list.length === 0 ? (
        <p className="empty">{t("recordings.none")}</p>
      ) : (
        list.map((r) => (
          <article key={r.id} className="recording" data-recording-id={r.id} data-state={r.state}>
            <h2>
              {r.subject ?? t("recordings.title")} · <time dateTime={r.started_at}>{when(r.started_at, lang)}</time>
            </h2>
            {r.state !== "ready" ? (
              <p className="muted">{t(`recordings.state.${r.state}` as "recordings.state.processing")}</p>
            ) : (
              <ul className="recording-files">
                {r.files.map((f) => {
                  const src = `/api/v1/recordings/${r.id}/files/${f.id}`;
                  const who = f.display_name ?? t("person.unknown");
                  const label = t(f.feed === "screen" ? "recordings.screen_of" : "recordings.camera_of", { name: who });
                  return (
                    <li key={f.id}>
                      <p>{f.media === "audio" ? t("recordings.sound_of", { name: who }) : label}</p>
                      {f.media === "audio" ? (
                        <audio controls preload="metadata" src={src} aria-label={t("recordings.sound_of", { name: who })} />
                      ) : (
                        <video controls preload="metadata" src={src} aria-label={label} width={480} />
                      )}
                      {r.my_rights.download && (
                        <a href={`${src}/download`} download>
                          {t("recordings.download")}
                        </a>
                      )}
                    </li>
                  );
                })}
              </ul>
            )}
            {r.expires_at && <p className="muted small">{t("recordings.expires", { date: when(r.expires_at, lang) })}</p>}
          </article>
        ))
      )}
    </section>
  );
}
