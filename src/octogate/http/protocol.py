"""uvicorn's httptools protocol, tolerant of bytes after a correct Content-Length (the rulings ask for it).

Some Octopush callers (old PHP code building requests by hand) write a stray `\\r\\n\\r\\n` or more after the
body. Stock uvicorn feeds those bytes to the parser with the request, gets a parse error and answers 400
instead of the request's answer. Here, once a request is complete, unreadable bytes behind it are dropped:
the request is answered and the connection closes after the answer.
"""

from __future__ import annotations

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class TolerantHttpToolsProtocol(HttpToolsProtocol):
    def data_received(self, data: bytes) -> None:
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            cycle = getattr(self, "cycle", None)
            if cycle is not None and not cycle.more_body and not cycle.response_complete:
                cycle.keep_alive = False  # answer the complete request, then close: the rest is unreadable
                return
            self.logger.warning("Invalid HTTP request received.")
            self.send_400_response("Invalid HTTP request received.")
        except httptools.HttpParserUpgrade:
            self._unsupported_upgrade_warning()
