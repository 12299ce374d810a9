"""The stream guard in Spark (`mapInArrow`, local mode): the lake's rows come out as the library
guards them, row for row."""

from __future__ import annotations

import pyarrow as pa

from tutela.connectors.spark import local_session
from tutela.engine import Engine
from tutela.guard.stream_config import Keyring
from tutela.guard.stream_spark import guard_dataframe
from tutela.guard.stream_synth import synthetic_events, synthetic_state

KEYS = Keyring.parse("k7:" + "5a" * 16)


def test_map_in_arrow_matches_the_library(engine: Engine) -> None:
    state = synthetic_state(200, seed=11)
    events = synthetic_events(200, 3000, seed=12)
    plain = pa.table({n: (c.combine_chunks().dictionary_decode() if pa.types.is_dictionary(c.type) else c)
                      for n, c in zip(events.column_names, events.columns, strict=True)})
    plain = plain.set_column(plain.column_names.index("ts"), "ts", plain.column("ts").cast(pa.timestamp("us", "UTC")))
    spark = local_session()
    df = spark.createDataFrame(plain.to_pandas()).repartition(3)
    rows = guard_dataframe(df, state, keys=KEYS).collect()
    expected = engine.stream_guard(state, keys=KEYS).guard(plain).table.to_pylist()
    got = sorted((r.asDict() for r in rows), key=lambda r: r["event_id"])
    assert len(got) == len(expected) > 0
    for g, e in zip(got, sorted(expected, key=lambda r: r["event_id"]), strict=True):
        assert g["ts"].replace(tzinfo=None) == e["ts"].replace(tzinfo=None)
        assert g["retain_until"].replace(tzinfo=None) == e["retain_until"].replace(tzinfo=None)
        for k in ("subject_id", "device_id", "ip", "lat", "lon", "kind", "recipient", "key_id", "content_id"):
            assert g[k] == e[k], k
