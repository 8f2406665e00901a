"""iCalendar (RFC 5545 / RFC 5546 iTIP) export of a meeting invitation.

One VEVENT per meeting, with ``UID`` ``<meeting id>@overleg`` and the meeting's
``SEQUENCE``, so that a calendar that imported an earlier version replaces it (and removes
it on ``METHOD:CANCEL``). The links and dial-in numbers in it are those the caller may see
(``scheduling.meeting_public``): the invitation link for those who may pass it on, else
the bare join link; the conference id and PIN for organizers, invitees and channel members.
A read: not audited (as other reads), but a caller who does not see the meeting gets the
audited 404.
"""

from __future__ import annotations

import uuid
from datetime import UTC

from icalendar import Calendar, Event, vCalAddress, vText
from sqlalchemy.ext.asyncio import AsyncSession

from overleg.identity import service as identity
from overleg.kernel.clock import now
from overleg.meetings.access import access_meeting
from overleg.meetings.scheduling import meeting_public
from overleg.security.principal import Principal

PRODID = "-//Overleg//Overleg meetings//EN"
MEDIA_TYPE = "text/calendar"


def _address(email: str, name: str | None, **params: str) -> vCalAddress:
    a = vCalAddress(f"mailto:{email}")
    if name:
        a.params["CN"] = vText(name)
    for k, v in params.items():
        a.params[k] = vText(v)
    return a


async def invitation_ics(principal: Principal, db: AsyncSession, meeting_id: uuid.UUID) -> bytes:
    """The invitation as an ``.ics`` file (``METHOD:REQUEST``, or ``CANCEL`` once the
    meeting is cancelled), for whoever sees the meeting."""
    m = await access_meeting(principal, db, meeting_id, action="meeting.read")
    view = await meeting_public(principal, db, m)
    cancelled = view.status == "cancelled"
    organizer = (await identity.people(db, [m.organizer_id])).get(m.organizer_id)
    link = view.invitation_url or view.join_url

    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "CANCEL" if cancelled else "REQUEST")
    ev = Event()
    ev.add("uid", f"{m.id}@overleg")
    ev.add("sequence", m.sequence)
    ev.add("dtstamp", now())
    ev.add("dtstart", view.starts_at.astimezone(UTC))
    ev.add("dtend", view.ends_at.astimezone(UTC))
    ev.add("summary", view.subject)
    ev.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    if organizer is not None:
        ev.add("organizer", _address(organizer.email, organizer.display_name))
    for i in view.invitees:
        if i.email:
            ev.add(
                "attendee",
                _address(
                    i.email,
                    i.display_name,
                    ROLE="REQ-PARTICIPANT",
                    PARTSTAT="NEEDS-ACTION",
                    RSVP="TRUE",
                ),
            )
    ev.add("location", link)
    ev.add("url", link)
    lines = [f"Join the meeting: {link}"]
    if view.dial_in is not None:
        lines += [
            "",
            "Join by phone:",
            f"Conference ID: {view.dial_in.conference_id}",
            f"PIN: {view.dial_in.pin}",
        ]
    ev.add("description", "\n".join(lines))
    cal.add_component(ev)
    return bytes(cal.to_ical())


__all__ = ["MEDIA_TYPE", "invitation_ics"]
