// The files of a channel (or chat): upload with progress, the malware scan's state, download
// once clean, delete. The uploader's view follows the scan live ("file.scanned").
import { useCallback, useEffect, useRef, useState } from "react";
import { api, ApiError, type Schemas } from "../api/client";
import { useI18n } from "../i18n";
import { bytes, when } from "../lib/format";
import { uploadFile, type Place } from "../lib/upload";
import { ShareDialog } from "./ShareDialog";
import { useWorkspace } from "./Shell";
import { ErrorNote, ScanBadge } from "./ui";

type FileRow = Schemas["FilePublic"];

export function FilesView({ place, writable }: { place: Place; writable: boolean }) {
  const { t, lang } = useI18n();
  const { socket, nameOf, me } = useWorkspace();
  const [files, setFiles] = useState<FileRow[] | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [progress, setProgress] = useState<{ name: string; fraction: number } | null>(null);
  const picker = useRef<HTMLInputElement>(null);
  const [sharing, setSharing] = useState<FileRow | null>(null);

  const load = useCallback(async () => {
    try {
      setFiles(await api.get("/api/v1/files", { query: place }));
    } catch (e) {
      setError(e as ApiError);
    }
  }, [place.container_type, place.container_id]); // eslint-disable-line react-hooks/exhaustive-deps

  useEffect(() => {
    void load();
  }, [load]);
  useEffect(
    () =>
      socket.on((e) => {
        if (e.type === "file.scanned" || e.type === "resync") void load();
      }),
    [socket, load],
  );

  const upload = async (list: FileList | null) => {
    if (!list) return;
    setError(null);
    for (const file of Array.from(list)) {
      try {
        setProgress({ name: file.name, fraction: 0 });
        await uploadFile(file, place, (fraction) => setProgress({ name: file.name, fraction }));
      } catch (e) {
        setError(e as ApiError);
      } finally {
        setProgress(null);
      }
    }
    await load();
  };

  const remove = async (f: FileRow) => {
    if (!confirm(t("files.delete_confirm", { name: f.name }))) return;
    try {
      await api.del("/api/v1/files/{file_id}", { path: { file_id: f.id } });
      await load();
    } catch (e) {
      setError(e as ApiError);
    }
  };

  return (
    <div className="files">
      <div className="row files-bar">
        <h2 className="sr-only">{t("channel.files")}</h2>
        {writable && (
          <>
            <input ref={picker} type="file" multiple hidden data-testid="file-input" onChange={(e) => void upload(e.target.files).then(() => (e.target.value = ""))} />
            <button className="primary" onClick={() => picker.current?.click()} disabled={progress !== null}>
              {t("files.upload")}
            </button>
          </>
        )}
        {progress && (
          <span className="upload-progress">
            <label>
              {t("files.uploading_name", { name: progress.name })}
              <progress value={progress.fraction} max={1} />
            </label>
          </span>
        )}
      </div>
      <ErrorNote error={error} />
      {files === null ? (
        <p className="muted" aria-busy="true">{t("state.loading")}</p>
      ) : files.length === 0 ? (
        <p className="empty">{t("files.none")}</p>
      ) : (
        <table className="file-table">
          <thead>
            <tr>
              <th scope="col">{t("files.name")}</th>
              <th scope="col">{t("files.state")}</th>
              <th scope="col">{t("files.size")}</th>
              <th scope="col">{t("files.modified")}</th>
              <th scope="col">
                <span className="sr-only">{t("files.actions")}</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {files.map((f) => (
              <tr key={f.id} data-file-id={f.id} data-file-name={f.name} data-state={f.state}>
                <td>
                  {f.state === "clean" || (f.state === "scan_pending" && f.owner_id === me.id) ? (
                    <a href={`/api/v1/files/${f.id}/content`} download={f.name}>
                      {f.name}
                    </a>
                  ) : (
                    <span>{f.name}</span>
                  )}
                  <div className="muted small">{nameOf(f.owner_id)}</div>
                </td>
                <td>
                  <ScanBadge state={f.state} />
                  {f.state === "infected" && <div className="muted small">{t("files.quarantined_hint")}</div>}
                </td>
                <td>{bytes(f.size, lang)}</td>
                <td>
                  <time dateTime={f.updated_at}>{when(f.updated_at, lang)}</time>
                </td>
                <td className="file-actions">
                  {f.state === "clean" && (
                    <button className="link" onClick={() => setSharing(f)} aria-label={t("files.share_named", { name: f.name })}>
                      {t("files.share")}
                    </button>
                  )}
                  {writable && (
                    <button className="link danger" onClick={() => void remove(f)} aria-label={t("files.delete_named", { name: f.name })}>
                      {t("action.delete")}
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {sharing && <ShareDialog file={sharing} onClose={() => setSharing(null)} />}
    </div>
  );
}
