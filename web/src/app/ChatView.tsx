// A chat (1:1 or group): its messages and its files, live like a channel. Chats have no
// threads; a read receipt goes with the newest message seen.
import { useCallback, useEffect, useRef, useState } from "react";
import { api, ApiError, type Schemas } from "../api/client";
import { useI18n } from "../i18n";
import { navigate } from "../lib/router";
import { FilesView } from "./FilesView";
import { Composer, MessageItem } from "./Messages";
import { useWorkspace } from "./Shell";
import { ErrorNote } from "./ui";

type Message = Schemas["MessagePublic"];
type Chat = Schemas["ChatPublic"];

export function chatName(chat: Chat, me: string, fallback: string): string {
  if (chat.topic) return chat.topic;
  const others = chat.members.filter((m) => m.user_id !== me).map((m) => m.display_name);
  return others.length ? others.join(", ") : fallback;
}

export function ChatView({ chat, tab, onRead }: { chat: Chat; tab: "chat" | "files"; onRead: (id: string) => void }) {
  const { t } = useI18n();
  const { me, socket } = useWorkspace();
  const [messages, setMessages] = useState<Message[] | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const bottom = useRef<HTMLDivElement>(null);
  const base = `/c/${chat.id}`;

  const load = useCallback(async () => {
    try {
      const list = await api.get("/api/v1/chats/{chat_id}/messages", { path: { chat_id: chat.id }, query: { limit: 50 } });
      const sorted = [...list].sort((a, b) => a.created_at.localeCompare(b.created_at));
      setMessages(sorted);
      const newest = sorted[sorted.length - 1];
      if (newest)
        await api
          .post("/api/v1/chats/{chat_id}/read", { path: { chat_id: chat.id }, body: { message_id: newest.id } })
          .catch(() => undefined);
      onRead(chat.id);
    } catch (e) {
      setError(e as ApiError);
    }
  }, [chat.id, onRead]);

  useEffect(() => {
    void load();
  }, [load]);
  useEffect(
    () =>
      socket.on((e) => {
        if (e.type === "resync") void load();
        else if ((e.type.startsWith("message.") || e.type.startsWith("reaction.")) && e.data.container_id === chat.id) void load();
      }),
    [socket, chat.id, load],
  );
  const count = messages?.length ?? 0;
  useEffect(() => {
    bottom.current?.scrollIntoView({ block: "end" });
  }, [count]);

  const send = async (text: string, attachments: string[]) => {
    await api.post("/api/v1/chats/{chat_id}/messages", { path: { chat_id: chat.id }, body: { text, attachments } });
    await load();
  };
  const name = chatName(chat, me.id, t("chat.just_you"));

  return (
    <section className="channel" aria-labelledby="chat-title">
      <header className="channel-head">
        <div>
          <h1 id="chat-title">{name}</h1>
          <p className="muted">
            {chat.kind === "group" ? t("chat.group", { count: chat.members.length }) : t("chat.one_on_one")}
          </p>
        </div>
        <nav className="tabs" aria-label={t("chat.tabs")}>
          {(["chat", "files"] as const).map((k) => (
            <a
              key={k}
              href={k === "chat" ? base : `${base}/files`}
              aria-current={tab === k ? "page" : undefined}
              onClick={(e) => {
                e.preventDefault();
                navigate(k === "chat" ? base : `${base}/files`);
              }}
            >
              {t(k === "chat" ? "chat.messages" : "channel.files")}
            </a>
          ))}
        </nav>
      </header>
      {tab === "files" ? (
        <FilesView place={{ container_type: "chat", container_id: chat.id }} writable />
      ) : (
        <div className="posts-area">
          <div className="posts">
            <ErrorNote error={error} />
            <ol className="messages" aria-label={t("chat.messages")} aria-live="polite">
              {messages === null ? (
                <li className="muted" aria-busy="true">{t("state.loading")}</li>
              ) : messages.length === 0 ? (
                <li className="empty">{t("chat.empty")}</li>
              ) : (
                messages.map((m) => <MessageItem key={m.id} m={m} mine={m.author_id === me.id} onChanged={load} />)
              )}
            </ol>
            <div ref={bottom} />
            <Composer label={t("chat.type")} place={{ container_type: "chat", container_id: chat.id }} onSend={send} />
          </div>
        </div>
      )}
    </section>
  );
}

/** Start a chat: pick people (from the directory you may see), optionally a topic. */
export function NewChat({ onClose, onMade }: { onClose: () => void; onMade: (chat: Chat) => void }) {
  const { t } = useI18n();
  const { people, me } = useWorkspace();
  const [query, setQuery] = useState("");
  const [chosen, setChosen] = useState<string[]>([]);
  const [topic, setTopic] = useState("");
  const [error, setError] = useState<ApiError | null>(null);
  const dialog = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    dialog.current?.showModal();
  }, []);
  const q = query.trim().toLowerCase();
  const shown = people.filter(
    (p) => p.id !== me.id && (!q || p.display_name.toLowerCase().includes(q) || p.email.toLowerCase().includes(q)),
  );
  const create = async () => {
    try {
      const chat = await api.post("/api/v1/chats", {
        body: { members: chosen, topic: chosen.length > 1 && topic.trim() ? topic.trim() : null },
      });
      onMade(chat);
    } catch (e) {
      setError(e as ApiError);
    }
  };
  return (
    <dialog ref={dialog} className="dialog" aria-labelledby="newchat-title" onClose={onClose}>
      <form
        method="dialog"
        onSubmit={(e) => {
          e.preventDefault();
          void create();
        }}
      >
        <h2 id="newchat-title">{t("chat.new")}</h2>
        <label>
          {t("chat.find_people")}
          <input type="search" value={query} onChange={(e) => setQuery(e.target.value)} autoFocus />
        </label>
        <fieldset className="people-pick">
          <legend className="sr-only">{t("chat.people")}</legend>
          {shown.length === 0 ? (
            <p className="muted">{t("chat.nobody")}</p>
          ) : (
            shown.slice(0, 50).map((p) => (
              <label key={p.id} className="check">
                <input
                  type="checkbox"
                  checked={chosen.includes(p.id)}
                  onChange={(e) => setChosen(e.target.checked ? [...chosen, p.id] : chosen.filter((x) => x !== p.id))}
                />
                <span>
                  {p.display_name} <span className="muted small">{p.email}</span>
                </span>
              </label>
            ))
          )}
        </fieldset>
        {chosen.length > 1 && (
          <label>
            {t("chat.topic")}
            <input value={topic} onChange={(e) => setTopic(e.target.value)} maxLength={250} />
          </label>
        )}
        <ErrorNote error={error} />
        <div className="row">
          <span className="spacer" />
          <button type="button" onClick={() => dialog.current?.close()}>
            {t("action.cancel")}
          </button>
          <button className="primary" disabled={chosen.length === 0}>
            {t("chat.start")}
          </button>
        </div>
      </form>
    </dialog>
  );
}
