"""Per-client rate limits for the share server: token buckets, one per client address.

Two buckets per client: every request (a phone loads a page, its image and maybe the download: a
few requests a minute), and misses, requests for a token the spool does not hold. A client whose
miss bucket is empty is refused everything, valid tokens included, until it refills: 10,000
guessed tokens cost a guesser hours and find nothing (128 bits a token). The table of clients is
bounded; the longest idle ones go first.
"""

from __future__ import annotations

from dataclasses import dataclass

REQUESTS_PER_S = 5.0
REQUEST_BURST = 40.0
"""A phone's page, image and download, reloads and a few friends behind one address."""
MISSES_PER_S = 0.1
MISS_BURST = 10.0
"""A mistyped or stale link now and then; a guesser gets ten, then one every ten seconds."""
MAX_CLIENTS = 4096


@dataclass
class _Bucket:
    requests: float
    misses: float
    last: float


class ClientLimits:
    def __init__(
        self,
        requests_per_s: float = REQUESTS_PER_S,
        request_burst: float = REQUEST_BURST,
        misses_per_s: float = MISSES_PER_S,
        miss_burst: float = MISS_BURST,
        max_clients: int = MAX_CLIENTS,
    ) -> None:
        self.requests_per_s, self.request_burst = requests_per_s, request_burst
        self.misses_per_s, self.miss_burst = misses_per_s, miss_burst
        self.max_clients = max_clients
        self._clients: dict[str, _Bucket] = {}

    def _bucket(self, client: str, now: float) -> _Bucket:
        bucket = self._clients.pop(client, None)  # re-inserted last: the dict stays in idle order
        if bucket is None:
            bucket = _Bucket(self.request_burst, self.miss_burst, now)
            while len(self._clients) >= self.max_clients:
                del self._clients[next(iter(self._clients))]
        elapsed = max(0.0, now - bucket.last)
        bucket.requests = min(self.request_burst, bucket.requests + elapsed * self.requests_per_s)
        bucket.misses = min(self.miss_burst, bucket.misses + elapsed * self.misses_per_s)
        bucket.last = now
        self._clients[client] = bucket
        return bucket

    def admit(self, client: str, now: float) -> float:
        """0 when the client may make this request (and it is counted), else the seconds to wait."""
        bucket = self._bucket(client, now)
        if bucket.misses < 1.0:
            return (1.0 - bucket.misses) / self.misses_per_s
        if bucket.requests < 1.0:
            return (1.0 - bucket.requests) / self.requests_per_s
        bucket.requests -= 1.0
        return 0.0

    def missed(self, client: str, now: float) -> None:
        """The client asked for a token the spool does not hold."""
        self._bucket(client, now).misses -= 1.0
