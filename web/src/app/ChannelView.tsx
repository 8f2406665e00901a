// A channel: its posts (with threads of replies) and its files. Live through the event
// socket: a change in this channel reloads what it touches, over the API (events carry
// ids, not content).
import { useCallback, useEffect, useRef, useState } from "react";
import { api, ApiError, type Schemas } from "../api/client";
import { useI18n } from "../i18n";
import { navigate } from "../lib/router";
import { FilesView } from "./FilesView";
import { Composer, MessageItem } from "./Messages";
import { useWorkspace } from "./Shell";
import { ErrorNote } from "./ui";

type Message = Schemas["MessagePublic"];

function oldestFirst(list: Message[]): Message[] {
  return [...list].sort((a, b) => a.created_at.localeCompare(b.created_at));
}

export function ChannelView({
  team,
  channel,
  tab,
  onRead,
}: {
  team: Schemas["TeamPublic"];
  channel: Schemas["ChannelPublic"];
  tab: "posts" | "files";
  onRead: (channelId: string) => void;
}) {
  const { t } = useI18n();
  const base = `/t/${team.id}/${channel.id}`;
  return (
    <section className="channel" aria-labelledby="channel-title">
      <header className="channel-head">
        <div>
          <h1 id="channel-title">{channel.name}</h1>
          <p className="muted">{team.name}{channel.archived ? ` · ${t("channel.archived")}` : ""}</p>
        </div>
        <nav className="tabs" aria-label={t("channel.tabs")}>
          {(["posts", "files"] as const).map((k) => (
            <a
              key={k}
              href={k === "posts" ? base : `${base}/files`}
              aria-current={tab === k ? "page" : undefined}
              onClick={(e) => {
                e.preventDefault();
                navigate(k === "posts" ? base : `${base}/files`);
              }}
            >
              {t(k === "posts" ? "channel.posts" : "channel.files")}
            </a>
          ))}
        </nav>
      </header>
      {tab === "posts" ? (
        <Posts channel={channel} onRead={onRead} />
      ) : (
        <FilesView place={{ container_type: "channel", container_id: channel.id }} writable={!channel.archived} />
      )}
    </section>
  );
}

function Posts({ channel, onRead }: { channel: Schemas["ChannelPublic"]; onRead: (id: string) => void }) {
  const { t } = useI18n();
  const { socket, me } = useWorkspace();
  const [posts, setPosts] = useState<Message[] | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [thread, setThread] = useState<Message | null>(null);
  const bottom = useRef<HTMLDivElement>(null);

  const load = useCallback(async () => {
    try {
      const list = await api.get("/api/v1/channels/{channel_id}/messages", { path: { channel_id: channel.id }, query: { limit: 50 } });
      setPosts(oldestFirst(list));
      setError(null);
      await api.post("/api/v1/channels/{channel_id}/read", { path: { channel_id: channel.id } }).catch(() => undefined);
      onRead(channel.id);
    } catch (e) {
      setError(e as ApiError);
    }
  }, [channel.id, onRead]);

  useEffect(() => {
    void load();
  }, [load]);

  useEffect(
    () =>
      socket.on((e) => {
        if (e.type === "resync") return void load();
        if (!e.type.startsWith("message.") && !e.type.startsWith("reaction.")) return;
        if (e.data.container_id !== channel.id) return;
        void load();
      }),
    [socket, channel.id, load],
  );

  const count = posts?.length ?? 0;
  useEffect(() => {
    bottom.current?.scrollIntoView({ block: "end" });
  }, [count]);

  const send = async (text: string, attachments: string[]) => {
    await api.post("/api/v1/channels/{channel_id}/messages", { path: { channel_id: channel.id }, body: { text, attachments } });
    await load();
  };

  return (
    <div className={`posts-area ${thread ? "with-thread" : ""}`}>
      <div className="posts">
        <ErrorNote error={error} />
        <ol className="messages" aria-label={t("channel.posts")} aria-live="polite">
          {posts === null ? (
            <li className="muted" aria-busy="true">{t("state.loading")}</li>
          ) : posts.length === 0 ? (
            <li className="empty">{t("channel.no_posts")}</li>
          ) : (
            posts.map((m) => (
              <MessageItem key={m.id} m={m} mine={m.author_id === me.id} onChanged={load} onOpenThread={() => setThread(m)} />
            ))
          )}
        </ol>
        <div ref={bottom} />
        {!channel.archived && (
          <Composer label={t("composer.new_post")} place={{ container_type: "channel", container_id: channel.id }} onSend={send} />
        )}
      </div>
      {thread && <Thread channel={channel} root={thread} onClose={() => setThread(null)} />}
    </div>
  );
}

function Thread({ channel, root, onClose }: { channel: Schemas["ChannelPublic"]; root: Message; onClose: () => void }) {
  const { t } = useI18n();
  const { socket, me } = useWorkspace();
  const [replies, setReplies] = useState<Message[] | null>(null);
  const [error, setError] = useState<ApiError | null>(null);

  const load = useCallback(async () => {
    try {
      const list = await api.get("/api/v1/channels/{channel_id}/messages/{post_id}/replies", {
        path: { channel_id: channel.id, post_id: root.id },
        query: { limit: 100 },
      });
      setReplies(oldestFirst(list));
    } catch (e) {
      setError(e as ApiError);
    }
  }, [channel.id, root.id]);

  useEffect(() => {
    void load();
  }, [load]);
  useEffect(
    () =>
      socket.on((e) => {
        if (e.type === "resync" || e.data.thread_root_id === root.id || e.data.message_id === root.id) void load();
      }),
    [socket, root.id, load],
  );

  const send = async (text: string, attachments: string[]) => {
    await api.post("/api/v1/channels/{channel_id}/messages/{post_id}/replies", {
      path: { channel_id: channel.id, post_id: root.id },
      body: { text, attachments },
    });
    await load();
  };

  return (
    <aside className="thread" aria-labelledby="thread-title">
      <header>
        <h2 id="thread-title">{t("thread.title")}</h2>
        <button className="icon" aria-label={t("action.close")} onClick={onClose}>
          ✕
        </button>
      </header>
      <ol className="messages">
        <MessageItem m={root} mine={root.author_id === me.id} onChanged={load} />
        <ErrorNote error={error} />
        {(replies ?? []).map((m) => (
          <MessageItem key={m.id} m={m} mine={m.author_id === me.id} onChanged={load} />
        ))}
      </ol>
      {!channel.archived && (
        <Composer label={t("composer.reply")} place={{ container_type: "channel", container_id: channel.id }} onSend={send} />
      )}
    </aside>
  );
}
