"""Helper process for tests/security/test_faults.py: ingest a dataset, acknowledging each batch.

``python -m tests.security.ingest_worker STORE DATASET_DIR`` runs the real ``ingest_dataset``
with a small write batch; after every batch of events is written it prints ``ACK <event ids>``
(flushed), so the test knows exactly which events were acknowledged before it kills the process.
``python -m tests.security.ingest_worker STORE --list`` prints the stored event ids. (The test
reads the store in a fresh process because Chroma caches an opened path per process, and a
cached view does not see another process's later writes.)
"""

from __future__ import annotations

import sys
from collections.abc import Iterable

from knowledge.embed import HashingEmbedder
from knowledge.ingest import ingest_dataset
from knowledge.schema import Event
from knowledge.store import Store, StoreConfig

BATCH = 40


class AckingStore(Store):
    """The real store; prints which events each completed write covered."""

    def add_events(self, events: Iterable[Event], progress: bool = False) -> int:
        events = list(events)
        n = 0
        for start in range(0, len(events), BATCH):
            batch = events[start : start + BATCH]
            n += super().add_events(batch)
            sys.stdout.write("ACK " + " ".join(e.event_id for e in batch) + "\n")
            sys.stdout.flush()
        return n


def main(store_path: str, dataset: str) -> int:
    config = StoreConfig(path=store_path, embedder="hashing", batch_size=BATCH)
    if dataset == "--list":
        with Store(config, HashingEmbedder(256)) as store:
            ids = [e.event_id for e in store.iter_events()]
        sys.stdout.write(" ".join(ids) + "\n")
        return 0
    with AckingStore(config, HashingEmbedder(256)) as store:
        ingest_dataset(store, dataset, format="native")
    sys.stdout.write("DONE\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
