// After the meeting (for this person): why they are out, and the way back in where there is one.
import { useEffect, useRef } from "react";
import { useI18n, type Key } from "../i18n";
import type { Exit } from "./Room";

const TEXT: Record<Exit, Key> = {
  left: "meetings.out.left",
  denied: "meetings.out.denied",
  removed: "meetings.out.removed",
  ended: "meetings.out.ended",
  cancelled: "meetings.out.cancelled",
  gone: "meetings.out.gone",
};

export function Farewell({
  why,
  subject,
  onRejoin,
  onBack,
}: {
  why: Exit;
  subject: string;
  onRejoin: () => void;
  onBack?: () => void;
}) {
  const { t } = useI18n();
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    heading.current?.focus();
  }, []);
  const over = why === "ended" || why === "cancelled";
  return (
    <div className="meeting-wait">
      <section className="card wait-card" aria-labelledby="farewell-title">
        <h1 id="farewell-title" ref={heading} tabIndex={-1}>
          {subject}
        </h1>
        <p role="status">{t(TEXT[why])}</p>
        <div className="row">
          {!over && (
            <button className="primary" onClick={onRejoin}>
              {t("meetings.out.rejoin")}
            </button>
          )}
          {onBack && <button onClick={onBack}>{t("meetings.out.back")}</button>}
        </div>
      </section>
    </div>
  );
}
