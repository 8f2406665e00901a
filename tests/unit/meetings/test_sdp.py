"""Reading an SDP offer's media sections: what it sends, under which mid."""

from __future__ import annotations

from overleg.meetings.media.signalling import media_sections

OFFER = "\r\n".join(
    [
        "v=0",
        "o=- 1 1 IN IP4 0.0.0.0",
        "s=-",
        "t=0 0",
        "m=audio 9 UDP/TLS/RTP/SAVPF 111",
        "a=mid:0",
        "a=sendrecv",
        "m=video 9 UDP/TLS/RTP/SAVPF 96",
        "a=mid:1",
        "a=recvonly",
        "m=video 0 UDP/TLS/RTP/SAVPF 96",
        "a=mid:2",
        "m=application 9 UDP/DTLS/SCTP webrtc-datachannel",
        "a=mid:3",
        "",
    ]
)


def test_sections_say_what_they_send() -> None:
    assert media_sections(OFFER) == [
        ("audio", "0", True),
        ("video", "1", False),  # recvonly
        ("video", "2", False),  # port 0: rejected section
        ("application", "3", True),
    ]


def test_no_sections() -> None:
    assert media_sections("v=0\r\ns=-\r\n") == []
