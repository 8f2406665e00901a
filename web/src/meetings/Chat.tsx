// The meeting chat: the last messages (the server sends sanitised HTML), and a composer
// (Enter sends, Shift+Enter adds a line). New messages arrive as `meeting.message`.
import { useEffect, useRef, useState } from "react";
import { api, ApiError, type Schemas } from "../api/client";
import { ErrorNote } from "../app/ui";
import { useI18n } from "../i18n";
import { when } from "../lib/format";
import type { Headers } from "./rtc";

type Message = Schemas["MeetingMessagePublic"];

export function Chat({
  meetingId,
  headers,
  messages,
  enabled,
  onSent,
}: {
  meetingId: string;
  headers: Headers;
  messages: Message[] | null;
  enabled: boolean;
  onSent: () => void;
}) {
  const { t, lang } = useI18n();
  const [text, setText] = useState("");
  const [error, setError] = useState<ApiError | null>(null);
  const [sending, setSending] = useState(false);
  const end = useRef<HTMLLIElement>(null);

  useEffect(() => {
    end.current?.scrollIntoView({ block: "end" }); // (it may return a promise: not a cleanup)
  }, [messages?.length]);

  const send = async () => {
    if (!text.trim() || sending) return;
    setSending(true);
    setError(null);
    try {
      await api.post("/api/v1/meetings/{meeting_id}/messages", { path: { meeting_id: meetingId }, headers, body: { text } });
      setText("");
      onSent();
    } catch (e) {
      setError(e as ApiError);
    } finally {
      setSending(false);
    }
  };

  return (
    <section className="meeting-chat" aria-labelledby="chat-heading">
      <h2 id="chat-heading">{t("meetings.chat.title")}</h2>
      {messages === null ? (
        <p className="muted" aria-busy="true">{t("state.loading")}</p>
      ) : messages.length === 0 ? (
        <p className="muted">{t("meetings.chat.none")}</p>
      ) : (
        <ol className="chat-list" aria-live="polite">
          {messages.map((m) => (
            <li key={m.id} className={m.recording_id ? "chat-item system" : "chat-item"}>
              <div className="message-head">
                <strong>{m.author_name}</strong>
                <time dateTime={m.created_at}>{when(m.created_at, lang)}</time>
              </div>
              <div className="body" dangerouslySetInnerHTML={{ __html: m.html }} />
            </li>
          ))}
          <li ref={end} aria-hidden="true" className="chat-end" />
        </ol>
      )}
      {enabled ? (
        <form
          className="chat-form"
          onSubmit={(e) => {
            e.preventDefault();
            void send();
          }}
        >
          <label className="sr-only" htmlFor="meeting-chat-text">
            {t("meetings.chat.label")}
          </label>
          <textarea
            id="meeting-chat-text"
            rows={2}
            value={text}
            placeholder={t("meetings.chat.placeholder")}
            onChange={(e) => setText(e.target.value)}
            onKeyDown={(e) => {
              if (e.key === "Enter" && !e.shiftKey) {
                e.preventDefault();
                void send();
              }
            }}
          />
          <ErrorNote error={error} />
          <button className="primary" type="submit" disabled={sending || !text.trim()}>
            {t("composer.send")}
          </button>
        </form>
      ) : (
        <p className="muted">{t("meetings.chat.off")}</p>
      )}
    </section>
  );
}
