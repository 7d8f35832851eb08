#!/usr/bin/env python3
"""Shows, with an independent client (confluent-kafka), how a broker answers a fetch that
starts inside a record batch. Kafka returns the whole batch and the client drops the records
before the position; Tansu 0.6 (dynostore) returns only the batches that begin at or after it,
so the rest of the batch the position falls in is never delivered from there.

    python3 scripts/tansu_mid_batch.py 127.0.0.1:19092

Prints the offsets read from each start position, and exits 1 if any were skipped.
"""

import sys
import uuid

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

host = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:19092"
topic = f"mid-batch-{uuid.uuid4().hex[:8]}"

admin = AdminClient({"bootstrap.servers": host})
for f in admin.create_topics([NewTopic(topic, 1, 1)]).values():
    f.result(10)

# Ten records in one batch: queued together, sent on flush.
producer = Producer({"bootstrap.servers": host, "linger.ms": 1000, "batch.num.messages": 100})
for i in range(10):
    producer.produce(topic, value=f"record {i}".encode(), partition=0)
producer.flush(10)
# And a second batch after it.
for i in range(10, 15):
    producer.produce(topic, value=f"record {i}".encode(), partition=0)
producer.flush(10)


def read_from(offset):
    c = Consumer(
        {
            "bootstrap.servers": host,
            "group.id": f"probe-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )
    c.assign([TopicPartition(topic, 0, offset)])
    got = []
    while True:
        m = c.poll(10)
        if m is None:
            break
        if m.error():
            break  # end of partition
        got.append(m.offset())
    c.close()
    return got


skipped = False
for start in (0, 5, 10, 12):
    got = read_from(start)
    expected = list(range(start, 15))
    note = "" if got == expected else f"  <- missing {sorted(set(expected) - set(got))}"
    skipped |= got != expected
    print(f"from {start:2}: {got}{note}")
sys.exit(1 if skipped else 0)
