"""Bringing a dropped session back: backoff, attempts, and which failures are final.

The rules are the same for every link: a refused API key (or no credits)
is permanent and never retried; anything else is retried ``attempts``
times, waiting :meth:`~decart_cli.config.EditConfig.reconnect_wait` before
each, unless the session ends meanwhile.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from .ends import Ended, Ends
from ..errors import AuthError, DecartError, Interrupted, SessionClosed
from ..ui.reporter import ConsoleReporter, SessionStats

log = logging.getLogger(__name__)


class Reconnector:
    """Runs the reconnect attempts after a link dropped, keeping ``stats`` and the reporter informed."""

    def __init__(
        self,
        attempts: int,
        wait: Callable[[int], float],
        stats: SessionStats,
        reporter: ConsoleReporter,
        *,
        banner: Callable[[str], None] = lambda text: None,
    ) -> None:
        self.attempts = attempts
        self.wait = wait
        self.stats = stats
        self.reporter = reporter
        self.banner = banner
        """Shows a short text on the window while reconnecting ("" clears it)."""

    async def run(self, dropped: DecartError, ends: Ends, attempt: Callable[[], Awaitable[None]], release: Callable[[], Awaitable[None]]) -> bool:
        """Reconnect after ``dropped``: True once back, False if the session ended meanwhile.

        ``attempt`` opens a new link and waits for its first edited frame;
        ``release`` closes the current (failed) link. Raises ``dropped`` when
        it is permanent, and :class:`SessionClosed` when every attempt failed.
        """
        if isinstance(dropped, AuthError) or self.attempts < 1:
            raise dropped
        try:
            return await self._attempts(dropped, ends, attempt, release)
        finally:
            self.banner("")

    async def _attempts(self, dropped: DecartError, ends: Ends, attempt: Callable[[], Awaitable[None]], release: Callable[[], Awaitable[None]]) -> bool:
        stats, attempts = self.stats, self.attempts
        await release()
        lost_at = time.monotonic()
        stats.state = "reconnecting"
        stats.reconnect_attempts = attempts
        self.reporter.warning(f"{dropped.message}: reconnecting")
        last = dropped
        for number in range(1, attempts + 1):
            stats.reconnect_attempt = number
            self.banner(f"reconnecting {number}/{attempts}")
            self.reporter.update(stats)
            if await ends.race({}, timeout=self.wait(number)):
                return False
            stats.state = "reconnecting"
            try:
                await ends.until(attempt())
            except Interrupted:
                return False
            except AuthError:
                raise
            except DecartError as exc:
                last = exc
                log.info("reconnect attempt %d/%d failed: %s", number, attempts, exc.message)
                await release()
                stats.state = "reconnecting"
                continue
            except Ended:
                await release()
                return False
            stats.reconnects += 1
            stats.reconnect_attempt = 0
            again = f"; prompt re-applied: {stats.prompt}" if stats.prompt else ""
            self.reporter.notice(f"reconnected after {time.monotonic() - lost_at:.1f} s (attempt {number}/{attempts}){again}")
            return True
        raise SessionClosed(
            f"lost the connection to the server and could not reconnect in {attempts} attempt{'s' if attempts > 1 else ''} ({last.message})",
            fix="reconnect",
        )
