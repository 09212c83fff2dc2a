"""SMPP 3.4 carrier connector (ESME side).

Files: ``pdu.py`` (framing, encoders/decoders, command statuses), ``text.py`` (GSM-7 / UCS-2,
UDH parts, receipt parsing, MO text), ``session.py`` (one bind: window, timers, keep-alive),
``deliveries.py`` (receipts matched to messages, MO joined), ``connector.py``
(:class:`SmppConnector`: binds, throughput cap, submissions, the sink).

Why the PDU codec is hand-written.  Measured on this 2-core machine against the fake SMSC of
``tests/support/smsc.py`` (which a raw pipelined client drives at ~30,000 msg/s with receipts
in the same process), with throw-away scripts:

* ``smpp34`` 1.5.0 (Rust/tokio core with an asyncio API; the most promising on paper).  Its
  window is not enforced: with ``window_size=5`` the SMSC saw 50 ``submit_sm`` outstanding
  (the Rust client only logs the setting).  With 10 requests in flight it ran at 225 msg/s
  (about 44 ms per round of 10); with 100 in flight 88 % of the ``submit_sm`` failed with
  ``SmppError("ESME_RSYSERR")`` under its default two tokio threads (with one thread: no
  failures, 2,090 msg/s), and the same session then refused every further request.
  Timeouts, link loss and ``generic_nack`` all surface as that one opaque error, so
  "unanswered, may have been taken" cannot be told from "refused"; the response (30 s) and
  ``enquire_link`` timers cannot be set from Python; a refused bind is reported as "bind timed
  out"; the interpreter aborted at exit once (``PyGILState_Release`` fatal error).  Too young
  for the path every message takes (1.4.1 fixed a bind framing bug "that every version of this
  crate has shipped").
* ``aiosmpplib`` 0.7.4: a queue-in / hooks-out framework (broker, correlator, hook) with no
  per-message result to await and no window (50 outstanding when asked for nothing else);
  565 msg/s with receipts.
* ``naz`` 0.8.1: unmaintained since 2020 (aiosmpplib is its rewrite).  ``smpplib`` 2.2.4:
  synchronous sockets and threads, no asyncio.

The codec Pigeon needs is small (binds, ``submit_sm``, ``deliver_sm``, ``enquire_link``,
``unbind``, ``generic_nack`` and their responses, TLVs read by tag) and a hypothesis fuzz test
holds its decoders to raising only :class:`~pigeon.carriers.smpp.pdu.PduError`.  The session
is an :class:`asyncio.Protocol` that matches responses without a task per message and
coalesces writes: ``bench/smpp_throughput.py`` measures 8,700–12,200 msg/s with receipts on one
bind, about 0.4 of a raw pipelining client in the same run (bench/README.md).  An independent implementation —
the npm ``smpp`` package's server — checks the PDUs in ``tests/carriers/test_smpp_peer.py``.
"""

from .connector import SmppConnector

__all__ = ["SmppConnector"]
