"""The realtime gateway: one WebSocket per client (``/api/v1/events``), typed events from
the outbox, typing indicators and presence. See ``gateway`` for the delivery guarantees
and ``protocol`` for what goes over the socket."""
