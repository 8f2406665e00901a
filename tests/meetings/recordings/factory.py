"""Ready recordings with real sealed blobs in the object store, made directly (the way
post-processing leaves them), for the access, streaming and expiry tests and the stage.

Two files: a camera video of the organizer (``VIDEO`` bytes, several 64 KiB chunks) and a
microphone of a second person (``AUDIO`` bytes). The bytes are known, so every range can be
checked exactly.
"""

from __future__ import annotations

import hashlib
import random
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from overleg.kernel.clock import now
from overleg.kernel.ids import new_id
from overleg.kernel.runtime import Runtime
from overleg.meetings.models import Recording, RecordingFile
from overleg.meetings.recordings import store
from overleg.meetings.recordings.manifest import Manifest, ManifestFile, ManifestPerson

#: 4.6 chunks of 64 KiB, and one that is not a whole chunk either
VIDEO = random.Random(7).randbytes(300_000)
AUDIO = random.Random(8).randbytes(70_001)
_DEFAULT = object()


@dataclass
class Made:
    meeting_id: uuid.UUID
    id: uuid.UUID
    #: file id -> plaintext
    files: dict[uuid.UUID, bytes] = field(default_factory=dict)
    video_id: uuid.UUID = field(default_factory=uuid.uuid4)
    audio_id: uuid.UUID = field(default_factory=uuid.uuid4)


async def _chunks(data: bytes, size: int = 50_000) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


async def make_recording(
    rt: Runtime,
    tenant_id: uuid.UUID,
    meeting_id: uuid.UUID,
    *,
    organizer_id: uuid.UUID,
    started_by: uuid.UUID | None,
    channel_id: uuid.UUID | None = None,
    people: tuple[tuple[str, uuid.UUID | None], tuple[str, uuid.UUID | None]] = (
        ("Olivia", None),
        ("Mia", None),
    ),
    expires_at: datetime | object | None = _DEFAULT,
    state: str = "ready",
    subject: str = "Weekly",
) -> Made:
    """A recording of ``meeting_id`` in ``state`` with its two files and manifest stored.
    ``expires_at`` defaults to 120 days from now."""
    t = now()
    start, stop = t - timedelta(hours=1), t - timedelta(minutes=10)
    rec_id = new_id()
    made = Made(meeting_id=meeting_id, id=rec_id)
    made.files = {made.video_id: VIDEO, made.audio_id: AUDIO}
    async with rt.database.transaction(tenant_id=tenant_id) as db:
        rec = Recording(
            id=rec_id,
            tenant_id=tenant_id,
            meeting_id=meeting_id,
            channel_id=channel_id,
            organizer_id=organizer_id,
            started_by_user_id=started_by,
            started_by_participant_id=uuid.uuid4(),
            started_at=start,
            stopped_at=stop,
            state=state,
            recycled_at=t if state == "recycled" else None,
            expires_at=t + timedelta(days=120) if expires_at is _DEFAULT else expires_at,
            attempts=1,
        )
        db.add(rec)
        await db.flush()
        listed: list[ManifestPerson] = []
        for (name, user_id), (file_id, data, feed, media, ctype, codec) in zip(
            people,
            (
                (made.video_id, VIDEO, "camera", "video", "video/webm", "vp8"),
                (made.audio_id, AUDIO, "camera", "audio", "audio/ogg", "opus"),
            ),
            strict=True,
        ):
            key, key_enc, info = await store.put(db, tenant_id, rec_id, str(file_id), _chunks(data))
            assert info.size == len(data)
            participant = uuid.uuid4()
            db.add(
                RecordingFile(
                    id=file_id,
                    tenant_id=tenant_id,
                    recording_id=rec_id,
                    participant_id=participant,
                    feed=feed,
                    media=media,
                    content_type=ctype,
                    object_key=key,
                    key_enc=key_enc,
                    size=info.size,
                    sha256=hashlib.sha256(data).hexdigest(),
                    started_at=start,
                    ended_at=stop,
                )
            )
            listed.append(
                ManifestPerson(
                    participant_id=participant,
                    display_name=name,
                    user_id=user_id,
                    ranges=[(start, stop)],
                    files=[
                        ManifestFile(
                            file_id=file_id,
                            feed=feed,
                            media=media,
                            content_type=ctype,
                            codec=codec,
                            started_at=start,
                            ended_at=stop,
                            size=len(data),
                            sha256=hashlib.sha256(data).hexdigest(),
                        )
                    ],
                )
            )
        manifest = Manifest(
            recording_id=rec_id,
            meeting_id=meeting_id,
            subject=subject,
            started_at=start,
            stopped_at=stop,
            people=listed,
        )
        key, key_enc, _ = await store.put(
            db, tenant_id, rec_id, store.MANIFEST, _chunks(manifest.model_dump_json().encode())
        )
        rec.manifest_object, rec.manifest_key_enc = key, key_enc
    return made
