// A form generated from a policy's JSON Schema (GET /api/admin/policies/{kind}/schema):
// booleans are switches, enums selects, numbers inputs with their bounds (sizes in KB..TB,
// "no limit" for nullable ones), lists of choices checkboxes, lists of text one per line,
// objects fieldsets and lists of objects ranked lists. Labels and help come from the area's
// strings (admin.field.<name>, admin.help.<name>, admin.enum.<name>.<value>), falling back
// to the schema's own title and description, so a new field still gets a sensible control.
// The server validates; its problem+json error is shown next to the field it names.
import { useEffect, useId, useRef, useState, type ReactNode } from "react";
import type { Schemas } from "../api/client";
import { useI18n } from "../i18n";
import { Switch, useMaybe } from "./ui";

export interface JsonSchema {
  type?: string;
  enum?: unknown[];
  anyOf?: JsonSchema[];
  $ref?: string;
  $defs?: Record<string, JsonSchema>;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  default?: unknown;
  title?: string;
  description?: string;
  format?: string;
}

type Value = unknown;
type Obj = Record<string, Value>;
type Group = Schemas["GroupPublic"];

interface Ctx {
  root: JsonSchema;
  errors: Record<string, string>;
  groups: Group[] | null;
  idPrefix: string;
}

/** `s` with its $ref replaced by the definition (the reference's own keys win). */
export function resolve(s: JsonSchema, root: JsonSchema): JsonSchema {
  if (!s.$ref) return s;
  const name = s.$ref.split("/").pop() ?? "";
  const { $ref: _ref, ...own } = s;
  return { ...resolve(root.$defs?.[name] ?? {}, root), ...own };
}

/** The non-null branch of `anyOf: [X, {type: null}]`, and whether null is allowed. */
function unwrap(s: JsonSchema, root: JsonSchema): { inner: JsonSchema; nullable: boolean } {
  const r = resolve(s, root);
  if (r.anyOf) {
    const others = r.anyOf.filter((b) => b.type !== "null");
    if (others.length === 1 && others.length < r.anyOf.length) {
      const { anyOf: _a, ...rest } = r;
      return { inner: { ...resolve(others[0]!, root), ...rest }, nullable: true };
    }
  }
  return { inner: r, nullable: false };
}

function isObject(s: JsonSchema): boolean {
  return s.type === "object" || s.properties !== undefined;
}

/** A value for a new item of `s`: its defaults, built down the tree. */
export function defaultsOf(s: JsonSchema, root: JsonSchema): Value {
  const r = resolve(s, root);
  if ("default" in r) return structuredClone(r.default);
  const { inner, nullable } = unwrap(r, root);
  if (nullable) return null;
  if (isObject(inner))
    return Object.fromEntries(Object.entries(inner.properties ?? {}).map(([k, p]) => [k, defaultsOf(p, root)]));
  if (inner.type === "array") return [];
  if (inner.type === "boolean") return false;
  if (inner.enum) return inner.enum[0];
  if (inner.type === "integer" || inner.type === "number") return inner.minimum ?? 0;
  return "";
}

export function SchemaForm({
  schema,
  value,
  onChange,
  errors,
  groups,
}: {
  schema: JsonSchema;
  value: Obj;
  onChange: (v: Obj) => void;
  errors: Record<string, string>;
  groups: Group[] | null;
}) {
  const idPrefix = useId();
  const ctx: Ctx = { root: schema, errors, groups, idPrefix };
  return <Properties ctx={ctx} schema={schema} path={[]} value={value} onChange={onChange} />;
}

function Properties({
  ctx,
  schema,
  path,
  value,
  onChange,
}: {
  ctx: Ctx;
  schema: JsonSchema;
  path: (string | number)[];
  value: Obj;
  onChange: (v: Obj) => void;
}) {
  return (
    <>
      {Object.entries(resolve(schema, ctx.root).properties ?? {}).map(([name, prop]) => (
        <Field
          key={name}
          ctx={ctx}
          name={name}
          schema={prop}
          path={[...path, name]}
          value={value?.[name]}
          onChange={(v) => onChange({ ...value, [name]: v })}
        />
      ))}
    </>
  );
}

interface FieldProps {
  ctx: Ctx;
  name: string;
  schema: JsonSchema;
  path: (string | number)[];
  value: Value;
  onChange: (v: Value) => void;
}

/** The error for `key` itself, or (for a leaf control) for anything under it. */
function errorAt(ctx: Ctx, key: string, leaf: boolean): string | undefined {
  if (ctx.errors[key] !== undefined) return ctx.errors[key];
  if (!leaf) return undefined;
  const under = Object.keys(ctx.errors).find((k) => k.startsWith(`${key}.`));
  return under === undefined ? undefined : ctx.errors[under];
}

function Field({ ctx, name, schema, path, value, onChange }: FieldProps) {
  const { t } = useI18n();
  const maybe = useMaybe();
  const { inner, nullable } = unwrap(schema, ctx.root);
  const key = path.join(".");
  const id = `${ctx.idPrefix}-${key.replace(/\./g, "-")}`;
  const label = maybe(`admin.field.${name}`, inner.title ?? name);
  const help = maybe(`admin.help.${name}`, inner.description ?? "");

  if (isObject(inner)) {
    const error = errorAt(ctx, key, false);
    return (
      <fieldset className="admin-fieldset" aria-describedby={help ? `${id}-help` : undefined}>
        <legend>{label}</legend>
        {help && (
          <p className="muted small admin-help" id={`${id}-help`}>
            {help}
          </p>
        )}
        {error && <FieldError id={`${id}-error`} text={error} />}
        <Properties ctx={ctx} schema={inner} path={path} value={(value ?? {}) as Obj} onChange={onChange} />
      </fieldset>
    );
  }
  if (inner.type === "array") {
    const items = unwrap(inner.items ?? {}, ctx.root).inner;
    if (isObject(items)) return <ObjectList {...{ ctx, name, path, value, onChange }} schema={inner} label={label} help={help} id={id} />;
  }

  const error = errorAt(ctx, key, true);
  const describedBy = [help && `${id}-help`, error && `${id}-error`].filter(Boolean).join(" ") || undefined;
  const below = (
    <>
      {help && (
        <span className="muted small admin-help" id={`${id}-help`}>
          {help}
        </span>
      )}
      {error && <FieldError id={`${id}-error`} text={error} />}
    </>
  );
  const invalid = error !== undefined;

  if (inner.type === "boolean")
    return (
      <div className="admin-field">
        <Switch label={label} checked={value === true} onChange={onChange} describedBy={describedBy} invalid={invalid} />
        {below}
      </div>
    );

  if (inner.enum && inner.type !== "array")
    return (
      <div className="admin-field">
        <label htmlFor={id}>{label}</label>
        <select
          id={id}
          value={String(value ?? "")}
          aria-describedby={describedBy}
          aria-invalid={invalid || undefined}
          onChange={(e) => onChange(e.target.value)}
        >
          {inner.enum.map((v) => (
            <option key={String(v)} value={String(v)}>
              {maybe(`admin.enum.${name}.${String(v)}`, String(v))}
            </option>
          ))}
        </select>
        {below}
      </div>
    );

  if (inner.type === "integer" || inner.type === "number")
    return (
      <NumberField
        id={id}
        name={name}
        label={label}
        schema={inner}
        nullable={nullable}
        value={value}
        onChange={onChange}
        describedBy={describedBy}
        invalid={invalid}
        below={below}
        fallback={resolve(schema, ctx.root).default}
      />
    );

  if (inner.type === "array") {
    const items = unwrap(inner.items ?? {}, ctx.root).inner;
    const list = Array.isArray(value) ? (value as Value[]) : [];
    if (name === "group_ids" || items.format === "uuid")
      return (
        <GroupsPicker id={id} label={label} groups={ctx.groups} value={list as string[]} onChange={onChange} describedBy={describedBy} invalid={invalid}>
          {below}
        </GroupsPicker>
      );
    if (items.enum)
      return (
        <fieldset className="admin-fieldset admin-choices" aria-describedby={describedBy}>
          <legend>{label}</legend>
          {items.enum.map((v) => (
            <label key={String(v)} className="check">
              <input
                type="checkbox"
                checked={list.includes(v)}
                aria-invalid={invalid || undefined}
                onChange={(e) => onChange(e.target.checked ? [...list, v] : list.filter((x) => x !== v))}
              />
              {maybe(`admin.enum.${name}.${String(v)}`, String(v))}
            </label>
          ))}
          {below}
        </fieldset>
      );
    return (
      <LinesField id={id} label={label} value={list.map(String)} onChange={onChange} describedBy={describedBy} invalid={invalid}>
        {t("admin.form.one_per_line")} {below}
      </LinesField>
    );
  }

  // text; for a nullable one, empty means "none"
  return (
    <div className="admin-field">
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        type={inner.format === "uri" ? "url" : "text"}
        value={value == null ? "" : String(value)}
        maxLength={inner.maxLength}
        aria-describedby={describedBy}
        aria-invalid={invalid || undefined}
        onChange={(e) => onChange(nullable && e.target.value === "" ? null : e.target.value)}
      />
      {below}
    </div>
  );
}

function FieldError({ id, text }: { id: string; text: string }) {
  return (
    <span className="admin-field-error" id={id}>
      {text}
    </span>
  );
}

const UNITS = { KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4 } as const;
type Unit = keyof typeof UNITS;

function unitFor(n: unknown): Unit {
  if (typeof n !== "number" || n === 0) return "GB";
  const fits = (Object.keys(UNITS) as Unit[]).filter((u) => n % UNITS[u] === 0);
  return fits[fits.length - 1] ?? "MB";
}

/** A number within the schema's bounds; sizes (`*_bytes`) in a unit; null as "no limit".
 * What is typed is sent as it is when it is not a number: the server says what is wrong. */
function NumberField({
  id,
  name,
  label,
  schema,
  nullable,
  value,
  onChange,
  describedBy,
  invalid,
  below,
  fallback,
}: {
  id: string;
  name: string;
  label: string;
  schema: JsonSchema;
  nullable: boolean;
  value: Value;
  onChange: (v: Value) => void;
  describedBy?: string;
  invalid: boolean;
  below: ReactNode;
  fallback: unknown;
}) {
  const { t, lang } = useI18n();
  const maybe = useMaybe();
  const isBytes = name.endsWith("_bytes");
  const [unit, setUnit] = useState<Unit>(() => unitFor(value));
  const scale = isBytes ? UNITS[unit] : 1;
  const show = (v: Value) => (typeof v === "number" ? String(v / scale) : v == null ? "" : String(v));
  const [text, setText] = useState(() => show(value));
  const emitted = useRef<Value>(value);
  const lastNumber = useRef<number | null>(typeof value === "number" ? value : null);
  // a change from outside (discard, a reload) replaces what is typed
  useEffect(() => {
    if (value !== emitted.current) {
      emitted.current = value;
      setText(show(value));
    }
    if (typeof value === "number") lastNumber.current = value;
  }, [value]); // eslint-disable-line react-hooks/exhaustive-deps

  const emit = (v: Value) => {
    emitted.current = v;
    onChange(v);
  };
  const parse = (s: string, sc: number): Value => {
    const n = Number(s);
    if (s.trim() === "" || !Number.isFinite(n)) return s;
    return isBytes ? Math.round(n * sc) : n;
  };
  const { minimum: min, maximum: max } = schema;
  const fmt = (n: number) => {
    if (!isBytes) return new Intl.NumberFormat(lang).format(n);
    const u = ([...(Object.keys(UNITS) as Unit[])].reverse().find((k) => n >= UNITS[k]) ?? "KB") as Unit;
    return `${new Intl.NumberFormat(lang, { maximumFractionDigits: 1 }).format(n / UNITS[u])} ${u}`;
  };
  const range =
    min !== undefined && max !== undefined
      ? t("admin.form.range", { min: fmt(min), max: fmt(max) })
      : min !== undefined
        ? t("admin.form.at_least", { min: fmt(min) })
        : max !== undefined
          ? t("admin.form.at_most", { max: fmt(max) })
          : "";
  const rangeId = `${id}-range`;
  const isNull = nullable && value === null;
  const restore = (): number => {
    if (lastNumber.current !== null) return lastNumber.current;
    if (typeof fallback === "number") return fallback;
    const guess = isBytes ? 10 * UNITS.GB : Math.max(min ?? 1, 1);
    return Math.min(Math.max(guess, min ?? guess), max ?? guess);
  };

  return (
    <div className="admin-field">
      <label htmlFor={id}>{label}</label>
      {nullable && (
        <label className="check admin-null">
          <input
            type="checkbox"
            checked={isNull}
            onChange={(e) => {
              const v = e.target.checked ? null : restore();
              if (typeof v === "number" && isBytes) setUnit(unitFor(v));
              emit(v);
              setText(typeof v === "number" ? String(v / (isBytes ? UNITS[unitFor(v)] : 1)) : "");
            }}
          />
          {maybe(`admin.null.${name}`, t("admin.form.no_limit"))}
        </label>
      )}
      {!isNull && (
        <div className="row admin-number">
          <input
            id={id}
            type="number"
            inputMode="numeric"
            min={min === undefined ? undefined : min / scale}
            max={max === undefined ? undefined : max / scale}
            step={isBytes ? "any" : schema.type === "integer" ? 1 : "any"}
            value={text}
            aria-describedby={[range && rangeId, describedBy].filter(Boolean).join(" ") || undefined}
            aria-invalid={invalid || undefined}
            onChange={(e) => {
              setText(e.target.value);
              emit(parse(e.target.value, scale));
            }}
          />
          {isBytes && (
            <select
              aria-label={t("admin.form.unit", { field: label })}
              value={unit}
              onChange={(e) => {
                const u = e.target.value as Unit;
                setUnit(u);
                emit(parse(text, UNITS[u]));
              }}
            >
              {(Object.keys(UNITS) as Unit[]).map((u) => (
                <option key={u} value={u}>
                  {u}
                </option>
              ))}
            </select>
          )}
        </div>
      )}
      {range && !isNull && (
        <span className="muted small admin-help" id={rangeId}>
          {range}
        </span>
      )}
      {below}
    </div>
  );
}

function LinesField({
  id,
  label,
  value,
  onChange,
  describedBy,
  invalid,
  children,
}: {
  id: string;
  label: string;
  value: string[];
  onChange: (v: Value) => void;
  describedBy?: string;
  invalid: boolean;
  children: ReactNode;
}) {
  const [text, setText] = useState(value.join("\n"));
  const emitted = useRef(value.join("\n"));
  useEffect(() => {
    const joined = value.join("\n");
    if (joined !== emitted.current.split("\n").map((s) => s.trim()).filter(Boolean).join("\n")) {
      emitted.current = joined;
      setText(joined);
    }
  }, [value]);
  return (
    <div className="admin-field">
      <label htmlFor={id}>{label}</label>
      <textarea
        id={id}
        rows={Math.min(Math.max(value.length + 1, 3), 12)}
        value={text}
        aria-describedby={describedBy}
        aria-invalid={invalid || undefined}
        onChange={(e) => {
          setText(e.target.value);
          emitted.current = e.target.value;
          onChange(
            e.target.value
              .split("\n")
              .map((s) => s.trim())
              .filter(Boolean),
          );
        }}
      />
      <span className="muted small admin-help">{children}</span>
    </div>
  );
}

function GroupsPicker({
  id,
  label,
  groups,
  value,
  onChange,
  describedBy,
  invalid,
  children,
}: {
  id: string;
  label: string;
  groups: Group[] | null;
  value: string[];
  onChange: (v: Value) => void;
  describedBy?: string;
  invalid: boolean;
  children: ReactNode;
}) {
  const { t } = useI18n();
  const known = new Set((groups ?? []).map((g) => g.id));
  const unknown = value.filter((g) => !known.has(g));
  const toggle = (gid: string, on: boolean) => onChange(on ? [...value, gid] : value.filter((x) => x !== gid));
  return (
    <fieldset className="admin-fieldset admin-choices" id={id} aria-describedby={describedBy}>
      <legend>{label}</legend>
      {groups === null ? (
        <p className="muted small">{t("admin.form.groups_loading")}</p>
      ) : groups.length === 0 ? (
        <p className="muted small">{t("admin.form.no_groups")}</p>
      ) : (
        groups.map((g) => (
          <label key={g.id} className="check">
            <input type="checkbox" checked={value.includes(g.id)} aria-invalid={invalid || undefined} onChange={(e) => toggle(g.id, e.target.checked)} />
            {g.name}
            {g.kind === "dynamic" && <span className="muted small"> ({t("admin.form.dynamic_group")})</span>}
          </label>
        ))
      )}
      {unknown.map((gid) => (
        <label key={gid} className="check">
          <input type="checkbox" checked onChange={() => toggle(gid, false)} />
          {t("admin.form.unknown_group", { id: gid })}
        </label>
      ))}
      {children}
    </fieldset>
  );
}

/** A ranked list of objects (group policies): add, remove, move up and down. */
function ObjectList({
  ctx,
  name,
  path,
  schema,
  value,
  onChange,
  label,
  help,
  id,
}: FieldProps & { label: string; help: string; id: string }) {
  const { t } = useI18n();
  const maybe = useMaybe();
  const list = Array.isArray(value) ? (value as Obj[]) : [];
  const itemSchema = schema.items ?? {};
  const key = path.join(".");
  const error = errorAt(ctx, key, false);
  const set = (next: Obj[]) => onChange(next);
  const move = (i: number, by: number) => {
    const next = [...list];
    const [item] = next.splice(i, 1);
    next.splice(i + by, 0, item!);
    set(next);
  };
  const full = schema.maxItems !== undefined && list.length >= schema.maxItems;
  return (
    <fieldset className="admin-fieldset admin-list" aria-describedby={help ? `${id}-help` : undefined}>
      <legend>{label}</legend>
      {help && (
        <p className="muted small admin-help" id={`${id}-help`}>
          {help}
        </p>
      )}
      {error && <FieldError id={`${id}-error`} text={error} />}
      {list.length === 0 && <p className="muted">{maybe(`admin.empty.${name}`, t("admin.form.no_items"))}</p>}
      {list.map((item, i) => {
        const named = typeof item.name === "string" && item.name.trim() !== "";
        const title = named ? String(item.name) : maybe(`admin.item.${name}`, t("admin.form.item", { n: i + 1 }), { n: i + 1 });
        const itemKey = `${key}.${i}`;
        const itemError = errorAt(ctx, itemKey, false);
        return (
          <fieldset key={i} className="admin-fieldset admin-item">
            <legend>{named ? t("admin.form.ranked", { n: i + 1, name: title }) : title}</legend>
            {itemError && <FieldError id={`${id}-${i}-error`} text={itemError} />}
            <Properties ctx={ctx} schema={itemSchema} path={[...path, i]} value={item} onChange={(v) => set(list.map((x, j) => (j === i ? v : x)))} />
            <div className="row admin-item-actions">
              <button type="button" disabled={i === 0} aria-label={t("admin.form.move_up_named", { name: title })} onClick={() => move(i, -1)}>
                {t("admin.form.move_up")}
              </button>
              <button
                type="button"
                disabled={i === list.length - 1}
                aria-label={t("admin.form.move_down_named", { name: title })}
                onClick={() => move(i, 1)}
              >
                {t("admin.form.move_down")}
              </button>
              <button type="button" className="link danger" aria-label={t("admin.form.remove_named", { name: title })} onClick={() => set(list.filter((_, j) => j !== i))}>
                {t("action.remove")}
              </button>
            </div>
          </fieldset>
        );
      })}
      <button type="button" disabled={full} onClick={() => set([...list, defaultsOf(itemSchema, ctx.root) as Obj])}>
        {maybe(`admin.add.${name}`, t("admin.form.add"))}
      </button>
    </fieldset>
  );
}
