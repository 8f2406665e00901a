// Search with the server's query language: messages and files you may read, each linked
// to where it lives.
import { useEffect, useState } from "react";
import { api, ApiError, type Schemas } from "../api/client";
import { useI18n } from "../i18n";
import { bytes, when } from "../lib/format";
import { navigate } from "../lib/router";
import { useWorkspace } from "./Shell";
import { ErrorNote, ScanBadge } from "./ui";

export function SearchView({ q, where }: { q: string; where: (m: Schemas["MessagePublic"]) => string | null }) {
  const { t, lang } = useI18n();
  const { nameOf } = useWorkspace();
  const [messages, setMessages] = useState<Schemas["MessagePublic"][] | null>(null);
  const [files, setFiles] = useState<Schemas["FilePublic"][] | null>(null);
  const [error, setError] = useState<ApiError | null>(null);

  useEffect(() => {
    setMessages(null);
    setFiles(null);
    setError(null);
    if (!q.trim()) return;
    void api.get("/api/v1/search/messages", { query: { q } }).then((r) => setMessages(r.messages), (e: ApiError) => setError(e));
    void api.get("/api/v1/search/files", { query: { q } }).then((r) => setFiles(r.files), () => setFiles([]));
  }, [q]);

  return (
    <section className="page" aria-labelledby="search-title">
      <h1 id="search-title">{t("search.results_for", { q })}</h1>
      <p className="muted small">{t("search.help")}</p>
      <ErrorNote error={error} />
      <h2>{t("search.messages")}</h2>
      {messages === null ? (
        error ? null : <p className="muted" aria-busy="true">{t("state.loading")}</p>
      ) : messages.length === 0 ? (
        <p className="empty">{t("search.none")}</p>
      ) : (
        <ol className="results">
          {messages.map((m) => {
            const href = where(m);
            return (
              <li key={m.id}>
                <div className="message-head">
                  <strong>{nameOf(m.author_id)}</strong>
                  <time dateTime={m.created_at}>{when(m.created_at, lang)}</time>
                </div>
                <div className="body" dangerouslySetInnerHTML={{ __html: m.html ?? "" }} />
                {href && (
                  <a
                    href={href}
                    onClick={(e) => {
                      e.preventDefault();
                      navigate(href);
                    }}
                  >
                    {t("search.open")}
                  </a>
                )}
              </li>
            );
          })}
        </ol>
      )}
      <h2>{t("search.files")}</h2>
      {files === null ? null : files.length === 0 ? (
        <p className="empty">{t("search.none")}</p>
      ) : (
        <ul className="results">
          {files.map((f) => (
            <li key={f.id}>
              <a href={`/api/v1/files/${f.id}/content`} download={f.name}>
                {f.name}
              </a>{" "}
              <span className="muted small">{bytes(f.size, lang)}</span> <ScanBadge state={f.state} />
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
