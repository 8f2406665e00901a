// One message (author, time, text as the server rendered and sanitised it, attachments,
// reactions, and for its author: edit and delete) and the composer.
import { useEffect, useRef, useState, type FormEvent, type KeyboardEvent } from "react";
import { api, ApiError, type Schemas } from "../api/client";
import { useI18n, type Key } from "../i18n";
import { bytes, when } from "../lib/format";
import { uploadFile, type Place } from "../lib/upload";
import { useWorkspace } from "./Shell";
import { ErrorNote, ScanBadge } from "./ui";

type Message = Schemas["MessagePublic"];
type Kind = "like" | "heart" | "laugh" | "surprised" | "sad" | "angry";
const REACTIONS: { kind: Kind; emoji: string; label: Key }[] = [
  { kind: "like", emoji: "👍", label: "reaction.like" },
  { kind: "heart", emoji: "❤️", label: "reaction.heart" },
  { kind: "laugh", emoji: "😄", label: "reaction.laugh" },
  { kind: "surprised", emoji: "😮", label: "reaction.surprised" },
  { kind: "sad", emoji: "😢", label: "reaction.sad" },
  { kind: "angry", emoji: "😠", label: "reaction.angry" },
];

export function MessageItem({
  m,
  mine,
  onChanged,
  onOpenThread,
}: {
  m: Message;
  mine: boolean;
  onChanged: () => void;
  onOpenThread?: () => void;
}) {
  const { t, lang } = useI18n();
  const { nameOf } = useWorkspace();
  const [editing, setEditing] = useState(false);
  const [draft, setDraft] = useState(m.text ?? "");
  const [error, setError] = useState<ApiError | null>(null);

  const act = async (work: () => Promise<unknown>) => {
    setError(null);
    try {
      await work();
      onChanged();
    } catch (e) {
      setError(e as ApiError);
    }
  };
  const react = (kind: Kind, on: boolean) =>
    act(() =>
      on
        ? api.del("/api/v1/messages/{message_id}/reactions/{kind}", { path: { message_id: m.id, kind } })
        : api.put("/api/v1/messages/{message_id}/reactions/{kind}", { path: { message_id: m.id, kind } }),
    );
  const save = (e: FormEvent) => {
    e.preventDefault();
    void act(async () => {
      await api.patch("/api/v1/messages/{message_id}", { path: { message_id: m.id }, body: { text: draft } });
      setEditing(false);
    });
  };

  return (
    <li className="message" data-message-id={m.id} aria-label={t("message.by", { name: nameOf(m.author_id) })}>
      <div className="message-head">
        <strong className="author">{nameOf(m.author_id)}</strong>
        <time dateTime={m.created_at}>{when(m.created_at, lang)}</time>
        {m.edited && !m.deleted && <span className="muted">{t("message.edited")}</span>}
      </div>
      {m.deleted ? (
        <p className="muted deleted">{t("message.deleted")}</p>
      ) : editing ? (
        <form onSubmit={save} className="edit">
          <label className="sr-only" htmlFor={`edit-${m.id}`}>
            {t("message.edit")}
          </label>
          <textarea id={`edit-${m.id}`} value={draft} onChange={(e) => setDraft(e.target.value)} rows={3} />
          <div className="row">
            <button className="primary">{t("action.save")}</button>
            <button type="button" onClick={() => (setEditing(false), setDraft(m.text ?? ""))}>
              {t("action.cancel")}
            </button>
          </div>
        </form>
      ) : (
        // the server renders Markdown and sanitises the HTML (nh3); the CSP allows no script
        <div className="body" dangerouslySetInnerHTML={{ __html: m.html ?? "" }} />
      )}
      {m.attachments.length > 0 && !m.deleted && <Attachments ids={m.attachments} />}
      <ErrorNote error={error} />
      {!m.deleted && (
        <div className="message-actions">
          {m.reactions
            .filter((r) => r.count > 0)
            .map((r) => {
              const def = REACTIONS.find((x) => x.kind === r.kind);
              return (
                <button
                  key={r.kind}
                  className={`reaction ${r.me ? "mine" : ""}`}
                  aria-pressed={r.me}
                  aria-label={t("reaction.count", { reaction: def ? t(def.label) : r.kind, count: r.count })}
                  onClick={() => void react(r.kind as Kind, r.me)}
                >
                  {def?.emoji ?? r.kind} {r.count}
                </button>
              );
            })}
          <details className="react-menu tool">
            <summary aria-label={t("reaction.add")}>☺︎+</summary>
            <div className="react-choices">
              {REACTIONS.map((r) => {
                const on = m.reactions.some((x) => x.kind === r.kind && x.me);
                return (
                  <button key={r.kind} aria-label={t(r.label)} aria-pressed={on} onClick={() => void react(r.kind, on)}>
                    {r.emoji}
                  </button>
                );
              })}
            </div>
          </details>
          {onOpenThread && (
            <button className={m.reply_count ? "link" : "link tool"} onClick={onOpenThread}>
              {m.reply_count ? t("message.replies", { count: m.reply_count }) : t("message.reply")}
            </button>
          )}
          {mine && !editing && (
            <>
              <button className="link tool" onClick={() => setEditing(true)}>
                {t("message.edit")}
              </button>
              <button
                className="link danger tool"
                onClick={() => {
                  if (confirm(t("message.delete_confirm")))
                    void act(() => api.del("/api/v1/messages/{message_id}", { path: { message_id: m.id } }));
                }}
              >
                {t("message.delete")}
              </button>
            </>
          )}
        </div>
      )}
    </li>
  );
}

function Attachments({ ids }: { ids: string[] }) {
  const { lang, t } = useI18n();
  const [files, setFiles] = useState<Schemas["FilePublic"][]>([]);
  useEffect(() => {
    void Promise.all(ids.map((id) => api.get("/api/v1/files/{file_id}", { path: { file_id: id } }).catch(() => null))).then((list) =>
      setFiles(list.filter((f): f is Schemas["FilePublic"] => f !== null)),
    );
  }, [ids]);
  return (
    <ul className="attachments" aria-label={t("message.attachments")}>
      {files.map((f) => (
        <li key={f.id}>
          {f.state === "clean" ? <a href={`/api/v1/files/${f.id}/content`} download={f.name}>{f.name}</a> : <span>{f.name}</span>}{" "}
          <span className="muted">{bytes(f.size, lang)}</span> <ScanBadge state={f.state} />
        </li>
      ))}
    </ul>
  );
}

/** The "@name" being typed just before the caret, if any. */
function mentionAt(text: string, caret: number): { start: number; query: string } | null {
  const before = text.slice(0, caret);
  const m = /(^|\s)@([\p{L}\p{N}._+-]*)$/u.exec(before);
  return m ? { start: caret - m[2]!.length - 1, query: m[2]!.toLowerCase() } : null;
}

export function Composer({
  label,
  place,
  onSend,
}: {
  label: string;
  place: Place;
  onSend: (text: string, attachments: string[]) => Promise<void>;
}) {
  const { t } = useI18n();
  const [text, setText] = useState("");
  const [files, setFiles] = useState<Schemas["FilePublic"][]>([]);
  const [progress, setProgress] = useState<number | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const [preview, setPreview] = useState<string | null>(null);
  const [mention, setMention] = useState<{ start: number; query: string } | null>(null);
  const [active, setActive] = useState(0);
  const picker = useRef<HTMLInputElement>(null);
  const area = useRef<HTMLTextAreaElement>(null);
  const { socket, people, me } = useWorkspace();
  const lastTyping = useRef(0);
  const id = `composer-${place.container_id}-${label.replace(/\W+/g, "-")}`;

  const matches = mention
    ? people
        .filter(
          (p) =>
            p.id !== me.id &&
            (p.display_name.toLowerCase().includes(mention.query) || p.email.toLowerCase().startsWith(mention.query)),
        )
        .slice(0, 8)
    : [];
  const listOpen = matches.length > 0;

  const choose = (p: Schemas["DirectoryUser"]) => {
    if (!mention) return;
    const caret = area.current?.selectionStart ?? text.length;
    const next = `${text.slice(0, mention.start)}@${p.email} ${text.slice(caret)}`;
    setText(next);
    setMention(null);
    const at = mention.start + p.email.length + 2;
    requestAnimationFrame(() => area.current?.setSelectionRange(at, at));
  };

  const submit = async (e?: FormEvent) => {
    e?.preventDefault();
    if (!text.trim() && files.length === 0) return;
    setBusy(true);
    setError(null);
    try {
      await onSend(text, files.map((f) => f.id));
      setText("");
      setFiles([]);
      setPreview(null);
    } catch (err) {
      setError(err as ApiError);
    } finally {
      setBusy(false);
    }
  };
  const onKey = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (listOpen) {
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        setActive((a) => (a + (e.key === "ArrowDown" ? 1 : matches.length - 1)) % matches.length);
        return;
      }
      if (e.key === "Enter" || e.key === "Tab") {
        e.preventDefault();
        choose(matches[Math.min(active, matches.length - 1)]!);
        return;
      }
      if (e.key === "Escape") {
        e.preventDefault();
        setMention(null);
        return;
      }
    }
    if (e.key === "Enter" && !e.shiftKey) {
      e.preventDefault();
      void submit();
    }
  };
  const showPreview = async () => {
    setError(null);
    if (!text.trim()) return setPreview("");
    try {
      setPreview((await api.post("/api/v1/messages/preview", { body: { text } })).html);
    } catch (err) {
      setError(err as ApiError);
    }
  };
  const attach = async (list: FileList | null) => {
    if (!list) return;
    setError(null);
    for (const file of Array.from(list)) {
      try {
        setProgress(0);
        const made = await uploadFile(file, place, setProgress);
        setFiles((f) => [...f, made]);
      } catch (err) {
        setError(err as ApiError);
      } finally {
        setProgress(null);
      }
    }
  };
  return (
    <form className="composer" onSubmit={(e) => void submit(e)}>
      <div className="composer-tabs">
        <button type="button" className="link" aria-pressed={preview === null} onClick={() => setPreview(null)}>
          {t("composer.edit")}
        </button>
        <button type="button" className="link" aria-pressed={preview !== null} onClick={() => void showPreview()}>
          {t("composer.preview")}
        </button>
      </div>
      <label className="sr-only" htmlFor={id}>
        {label}
      </label>
      {preview !== null ? (
        <div className="composer-preview body" aria-live="polite">
          {preview ? <div dangerouslySetInnerHTML={{ __html: preview }} /> : <p className="muted">{t("composer.preview_empty")}</p>}
        </div>
      ) : (
        <textarea
          ref={area}
          id={id}
          placeholder={label}
          value={text}
          rows={2}
          onKeyDown={onKey}
          role={listOpen ? "combobox" : undefined}
          aria-expanded={listOpen ? true : undefined}
          aria-controls={listOpen ? `${id}-people` : undefined}
          aria-autocomplete={listOpen ? "list" : undefined}
          aria-activedescendant={listOpen ? `${id}-person-${Math.min(active, matches.length - 1)}` : undefined}
          onChange={(e) => {
            setText(e.target.value);
            setMention(mentionAt(e.target.value, e.target.selectionStart));
            setActive(0);
            if (Date.now() - lastTyping.current > 3000 && place.container_type !== "user") {
              lastTyping.current = Date.now();
              socket.send({ type: "typing", container_type: place.container_type, container_id: place.container_id });
            }
          }}
        />
      )}
      {listOpen && preview === null && (
        <ul className="mention-list" role="listbox" id={`${id}-people`} aria-label={t("composer.mention_people")}>
          {matches.map((p, i) => (
            <li
              key={p.id}
              id={`${id}-person-${i}`}
              role="option"
              aria-selected={i === Math.min(active, matches.length - 1)}
              onMouseDown={(e) => {
                e.preventDefault();
                choose(p);
              }}
            >
              {p.display_name} <span className="muted small">{p.email}</span>
            </li>
          ))}
        </ul>
      )}
      {files.length > 0 && (
        <ul className="attachments">
          {files.map((f) => (
            <li key={f.id}>
              {f.name} <ScanBadge state={f.state} />
              <button type="button" className="link" onClick={() => setFiles(files.filter((x) => x.id !== f.id))}>
                {t("action.remove")}
              </button>
            </li>
          ))}
        </ul>
      )}
      {progress !== null && <progress value={progress} max={1} aria-label={t("files.uploading")} />}
      <ErrorNote error={error} />
      <div className="row">
        <span className="muted hint">{t("composer.hint")}</span>
        <span className="spacer" />
        <input ref={picker} type="file" hidden multiple onChange={(e) => void attach(e.target.files).then(() => (e.target.value = ""))} />
        <button type="button" onClick={() => picker.current?.click()} disabled={progress !== null}>
          {t("composer.attach")}
        </button>
        <button className="primary" disabled={busy || progress !== null}>
          {t("composer.send")}
        </button>
      </div>
    </form>
  );
}
