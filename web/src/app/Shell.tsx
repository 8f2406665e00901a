// The signed-in frame: the top bar, the list of teams and channels (with unread counts, kept
// current by the event socket) and the open channel.
import { createContext, useCallback, useContext, useEffect, useMemo, useState } from "react";
import { api, ApiError, type Schemas } from "../api/client";
import { LANGS, useI18n, type Key, type Lang } from "../i18n";
import { EventSocket, type SocketState } from "../lib/events";
import { navigate, useRoute } from "../lib/router";
import { Account } from "../account/Account";
import { AdminCentre } from "../admin/AdminCentre";
import { MeetingsHome } from "../meetings/MeetingsHome";
import { MeetingView } from "../meetings/MeetingView";
import { Recordings } from "../meetings/Recordings";
import { ChannelView } from "./ChannelView";
import { ErrorNote } from "./ui";
import { ChatView, NewChat, chatName } from "./ChatView";
import { SearchView } from "./Search";
import { NewChannel, NewTeam } from "./TeamDialogs";

type Team = Schemas["TeamPublic"];
type Channel = Schemas["ChannelPublic"];
type Chat = Schemas["ChatPublic"];
type Me = Schemas["Me"];

export interface Workspace {
  me: Me;
  socket: EventSocket;
  nameOf: (id: string | null | undefined) => string;
  people: Schemas["DirectoryUser"][];
}

const WorkspaceCtx = createContext<Workspace | null>(null);

export function useWorkspace(): Workspace {
  const w = useContext(WorkspaceCtx);
  if (!w) throw new Error("useWorkspace outside Shell");
  return w;
}

export function Shell({ me, onSignedOut }: { me: Me; onSignedOut: () => void }) {
  const { t, lang, setLang } = useI18n();
  const route = useRoute();
  const [teams, setTeams] = useState<Team[] | null>(null);
  const [channels, setChannels] = useState<Record<string, Channel[]>>({});
  const [people, setPeople] = useState<Schemas["DirectoryUser"][]>([]);
  const [chats, setChats] = useState<Chat[] | null>(null);
  const [newChat, setNewChat] = useState(false);
  const [newTeam, setNewTeam] = useState(false);
  const [channelFor, setChannelFor] = useState<Team | null>(null);
  const [presence, setPresence] = useState<Record<string, string>>({});
  const [query, setQuery] = useState("");
  const [socketState, setSocketState] = useState<SocketState>("connecting");
  const [navOpen, setNavOpen] = useState(false);
  const socket = useMemo(() => new EventSocket(), []);

  const [loadError, setLoadError] = useState<ApiError | null>(null);
  // a failure here (the session ended, the server is away) is shown, never thrown: the
  // socket's next "resync" or a reload tries again
  const loadTeams = useCallback(async () => {
    try {
      const ts = await api.get("/api/v1/teams");
      const entries = await Promise.all(
        ts.map(async (tm) => [tm.id, await api.get("/api/v1/teams/{team_id}/channels", { path: { team_id: tm.id } })] as const),
      );
      setTeams(ts);
      setChannels(Object.fromEntries(entries));
      setLoadError(null);
    } catch (e) {
      setLoadError(e as ApiError);
    }
  }, []);

  const loadChats = useCallback(async () => {
    try {
      setChats(await api.get("/api/v1/chats"));
    } catch (e) {
      setLoadError(e as ApiError);
    }
  }, []);

  useEffect(() => {
    void loadTeams();
    void loadChats();
    void api.get("/api/v1/directory").then(setPeople, () => setPeople([]));
    socket.start();
    const offState = socket.onState(setSocketState);
    return () => {
      offState();
      socket.stop();
    };
  }, [loadTeams, loadChats, socket]);

  const [, teamId, channelId, tab] = route[0] === "t" ? route : [];
  const openChannel = channelId ?? null;
  const openChat = route[0] === "c" ? (route[1] ?? null) : null;

  // presence of the people I chat with (the server sends changes for those I may see)
  const partners = useMemo(
    () => [...new Set((chats ?? []).flatMap((c) => c.members.map((m) => m.user_id)).filter((id) => id !== me.id))].sort(),
    [chats, me.id],
  );
  useEffect(() => {
    const send = () => socket.send({ type: "presence.subscribe", user_ids: partners.slice(0, 500) });
    send();
    return socket.onState((st) => {
      if (st === "open") send();
    });
  }, [socket, partners]);

  // unread counts follow the socket; the open channel is read
  useEffect(
    () =>
      socket.on((e) => {
        if (e.type === "resync" || e.type === "membership.changed") {
          void loadTeams();
          void loadChats();
        }
        if (e.type === "presence") {
          const { user_id, availability } = e.data as { user_id: string; availability: string };
          setPresence((p) => ({ ...p, [user_id]: availability }));
          return;
        }
        if (e.type === "message.created" && e.data.container_type === "chat") {
          const cid = String(e.data.container_id);
          if (cid === openChat || e.data.author_id === me.id) return;
          setChats((all) => {
            if (!all) return all;
            if (!all.some((c) => c.id === cid)) {
              void loadChats(); // a chat someone just started with me
              return all;
            }
            return all.map((c) => (c.id === cid ? { ...c, unread_count: (c.unread_count ?? 0) + 1 } : c));
          });
          return;
        }
        if (e.type !== "message.created" || e.data.container_type !== "channel") return;
        const cid = String(e.data.container_id);
        if (cid === openChannel || e.data.author_id === me.id) return;
        setChannels((all) => {
          const next: Record<string, Channel[]> = {};
          for (const [tid, list] of Object.entries(all))
            next[tid] = list.map((c) => (c.id === cid ? { ...c, unread_count: (c.unread_count ?? 0) + 1 } : c));
          return next;
        });
      }),
    [socket, openChannel, openChat, me.id, loadTeams, loadChats],
  );

  // no channel chosen: the first team's General channel
  useEffect(() => {
    if (route.length === 0 && teams && teams.length) {
      const first = teams[0]!;
      const general = first.general_channel_id ?? channels[first.id]?.[0]?.id;
      if (general) navigate(`/t/${first.id}/${general}`, true);
    }
  }, [route.length, teams, channels]);

  const markChatRead = useCallback((cid: string) => {
    setChats((all) => all && all.map((c) => (c.id === cid ? { ...c, unread_count: 0 } : c)));
  }, []);

  const markRead = useCallback((cid: string) => {
    setChannels((all) => {
      const next: Record<string, Channel[]> = {};
      for (const [tid, list] of Object.entries(all))
        next[tid] = list.map((c) => (c.id === cid ? { ...c, unread_count: 0 } : c));
      return next;
    });
  }, []);

  const names = useMemo(() => new Map(people.map((p) => [p.id, p.display_name])), [people]);
  const workspace = useMemo<Workspace>(
    () => ({
      me,
      socket,
      people,
      nameOf: (id) => (id ? (id === me.id ? me.display_name : names.get(id) ?? t("person.unknown")) : t("person.system")),
    }),
    [me, socket, people, names, t],
  );

  const signOut = async () => {
    try {
      await api.post("/api/v1/auth/sign-out");
    } finally {
      socket.stop();
      navigate("/", true);
      onSignedOut();
    }
  };

  const channelPath = (channelId: string): string | null => {
    for (const [tid, list] of Object.entries(channels)) if (list.some((c) => c.id === channelId)) return `/t/${tid}/${channelId}`;
    return null;
  };

  const current = teamId && openChannel ? channels[teamId]?.find((c) => c.id === openChannel) : undefined;
  const team = teams?.find((tm) => tm.id === teamId);

  return (
    <WorkspaceCtx.Provider value={workspace}>
      <div className="shell">
        <header className="topbar">
          <button className="icon nav-toggle" aria-label={t("nav.toggle")} aria-expanded={navOpen} onClick={() => setNavOpen(!navOpen)}>
            ☰
          </button>
          <span className="brand">Overleg</span>
          <span className={`conn conn-${socketState}`} role="status" aria-live="polite">
            {socketState === "open" ? "" : t(socketState === "connecting" ? "conn.connecting" : "conn.offline")}
          </span>
          <form
            className="search-box"
            role="search"
            onSubmit={(e) => {
              e.preventDefault();
              if (query.trim()) navigate(`/search/${encodeURIComponent(query.trim())}`);
            }}
          >
            <label className="sr-only" htmlFor="search-input">
              {t("search.label")}
            </label>
            <input id="search-input" type="search" placeholder={t("search.placeholder")} value={query} onChange={(e) => setQuery(e.target.value)} />
          </form>
          <span className="spacer" />
          <label className="lang">
            <span className="sr-only">{t("lang.choose")}</span>
            <select value={lang} onChange={(e) => setLang(e.target.value as Lang)}>
              {Object.entries(LANGS).map(([k, v]) => (
                <option key={k} value={k}>
                  {v}
                </option>
              ))}
            </select>
          </label>
          {me.admin_roles.length > 0 && <NavLink to="/admin" current={route[0] === "admin"} label={t("admin.title")} />}
          <NavLink to="/account" current={route[0] === "account"} label={me.display_name} className="me" />
          <button onClick={() => void signOut()}>{t("action.sign_out")}</button>
        </header>
        <nav className={`sidebar ${navOpen ? "open" : ""}`} aria-label={t("nav.teams")}>
          <ul className="nav-links">
            <li>
              <NavLink to="/meetings" current={route[0] === "meetings" || route[0] === "m"} label={t("meetings.title")} onGo={() => setNavOpen(false)} />
            </li>
          </ul>
          <ErrorNote error={loadError} />
          <div className="chats-head">
            <h2 className="sidebar-title">{t("nav.teams")}</h2>
            <button className="link" onClick={() => setNewTeam(true)}>
              {t("team.new")}
            </button>
          </div>
          {teams === null ? (
            <p className="muted" aria-busy="true">{t("state.loading")}</p>
          ) : teams.length === 0 ? (
            <p className="muted">{t("nav.no_teams")}</p>
          ) : (
            teams.map((tm) => (
              <section key={tm.id} className="team">
                <div className="chats-head">
                  <h3>{tm.name}</h3>
                  {tm.my_role === "owner" && !tm.archived && (
                    <button className="link small" onClick={() => setChannelFor(tm)} aria-label={t("channel.new_in", { team: tm.name })}>
                      +
                    </button>
                  )}
                </div>
                <ul>
                  {(channels[tm.id] ?? []).map((c) => (
                    <li key={c.id}>
                      <a
                        href={`/t/${tm.id}/${c.id}`}
                        aria-current={c.id === openChannel ? "page" : undefined}
                        className={c.unread_count ? "unread" : ""}
                        onClick={(e) => {
                          e.preventDefault();
                          setNavOpen(false);
                          navigate(`/t/${tm.id}/${c.id}`);
                        }}
                      >
                        <span className="channel-name">{c.name}</span>
                        {c.unread_count ? (
                          <span className="count" aria-label={t("nav.unread", { count: c.unread_count })}>
                            {c.unread_count}
                          </span>
                        ) : null}
                      </a>
                    </li>
                  ))}
                </ul>
              </section>
            ))
          )}
          <div className="chats-head">
            <h2 className="sidebar-title">{t("chat.chats")}</h2>
            <button className="link" onClick={() => setNewChat(true)}>
              {t("chat.new")}
            </button>
          </div>
          {chats === null ? null : chats.length === 0 ? (
            <p className="muted small">{t("chat.none")}</p>
          ) : (
            <ul className="chat-list">
              {chats.map((c) => {
                const other = c.kind === "one_on_one" ? c.members.find((m) => m.user_id !== me.id) : undefined;
                const state = other ? (presence[other.user_id] ?? "offline") : null;
                return (
                  <li key={c.id}>
                    <a
                      href={`/c/${c.id}`}
                      aria-current={c.id === openChat ? "page" : undefined}
                      className={c.unread_count ? "unread" : ""}
                      onClick={(e) => {
                        e.preventDefault();
                        setNavOpen(false);
                        navigate(`/c/${c.id}`);
                      }}
                    >
                      {state && <span className={`presence presence-${state}`} role="img" aria-label={t(`presence.${state}` as Key)} />}
                      <span className="channel-name">{chatName(c, me.id, t("chat.just_you"))}</span>
                      {c.unread_count ? (
                        <span className="count" aria-label={t("nav.unread", { count: c.unread_count })}>
                          {c.unread_count}
                        </span>
                      ) : null}
                    </a>
                  </li>
                );
              })}
            </ul>
          )}
        </nav>
        <main className="content" id="main">
          {route[0] === "account" ? (
            <Account />
          ) : route[0] === "admin" ? (
            <AdminCentre path={route.slice(1)} />
          ) : route[0] === "meetings" ? (
            <MeetingsHome />
          ) : route[0] === "search" && route[1] ? (
            <SearchView q={route[1]} where={(m) => (m.container_type === "chat" ? `/c/${m.container_id}` : channelPath(m.container_id))} />
          ) : route[0] === "c" && openChat ? (
            chats === null ? (
              <p className="muted center" aria-busy="true">{t("state.loading")}</p>
            ) : chats.find((c) => c.id === openChat) ? (
              <ChatView key={openChat} chat={chats.find((c) => c.id === openChat)!} tab={route[2] === "files" ? "files" : "chat"} onRead={markChatRead} />
            ) : (
              <div className="empty">{t("chat.gone")}</div>
            )
          ) : route[0] === "recordings" && route[1] ? (
            <Recordings key={route[1]} meetingId={route[1]} />
          ) : route[0] === "m" && route[1] ? (
            <MeetingView key={route[1]} meetingId={route[1]} />
          ) : current && team ? (
            <ChannelView key={current.id} team={team} channel={current} tab={tab === "files" ? "files" : "posts"} onRead={markRead} />
          ) : teams && teams.length === 0 ? (
            <div className="empty">
              <p>{t("nav.no_teams_long")}</p>
            </div>
          ) : (
            <p className="muted center" aria-busy="true">{t("state.loading")}</p>
          )}
        </main>
        {newTeam && (
          <NewTeam
            onClose={() => setNewTeam(false)}
            onMade={(team) => {
              setNewTeam(false);
              void loadTeams().then(() => team.general_channel_id && navigate(`/t/${team.id}/${team.general_channel_id}`));
            }}
          />
        )}
        {channelFor && (
          <NewChannel
            team={channelFor}
            onClose={() => setChannelFor(null)}
            onMade={(channel) => {
              setChannelFor(null);
              void loadTeams().then(() => navigate(`/t/${channel.team_id}/${channel.id}`));
            }}
          />
        )}
        {newChat && (
          <NewChat
            onClose={() => setNewChat(false)}
            onMade={(chat) => {
              setNewChat(false);
              void loadChats();
              navigate(`/c/${chat.id}`);
            }}
          />
        )}
      </div>
    </WorkspaceCtx.Provider>
  );
}

function NavLink({
  to,
  current,
  label,
  className,
  onGo,
}: {
  to: string;
  current: boolean;
  label: string;
  className?: string;
  onGo?: () => void;
}) {
  return (
    <a
      href={to}
      className={className}
      aria-current={current ? "page" : undefined}
      onClick={(e) => {
        e.preventDefault();
        onGo?.();
        navigate(to);
      }}
    >
      {label}
    </a>
  );
}
