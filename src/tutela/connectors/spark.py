"""PySpark in local mode, bound to loopback: one session per process, shared by the audit's
Spark engine and the lake connector's Spark path."""

from __future__ import annotations

import logging
import os
import tempfile
from typing import Any

from tutela.errors import InputError

_warehouse: tempfile.TemporaryDirectory[str] | None = None


def local_session() -> Any:
    """The process's local SparkSession (two threads, no UI, UTC, Arrow transfers on)."""
    global _warehouse
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:  # pragma: no cover - pyspark is a dependency
        raise InputError("the Spark engine needs pyspark", where="--engine") from exc
    logging.getLogger("py4j").setLevel(logging.ERROR)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # loopback only, also for the block manager
    if _warehouse is None:
        _warehouse = tempfile.TemporaryDirectory(prefix="tutela-spark-")
    spark = (
        SparkSession.builder.master("local[2]").appName("tutela")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.warehouse.dir", _warehouse.name)
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    return spark
