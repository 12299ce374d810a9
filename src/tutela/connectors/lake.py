"""A Parquet folder (`parquet:///dir`, one `<table>.parquet` per collection) through DuckDB.

DuckDB finds the matching rows (a semi join of the file against the batch's keys, by file
row number); Arrow computes the masks; the file is rewritten without the erased rows or with
the masked values to `<table>.parquet.tmp`, fsynced, and renamed over the original
(`os.replace` is atomic), then the folder is fsynced. A crash leaves either the old file or
the new one; a stale `.tmp` is overwritten by the next run. Row order and the Arrow schema
are kept. One writer per folder at a time.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tutela.connectors.base import Applied, Target, missing_fields, prepare_keys
from tutela.connectors.strategies import changed, mask, require_field_strategy, require_ready
from tutela.errors import InputError


class LakeConnector:
    kind = "lake"

    def __init__(self, folder: Path, engine: str = "duckdb") -> None:
        if not folder.is_dir():
            raise InputError("Parquet folder not found", where=str(folder))
        if engine not in ("duckdb", "spark"):
            raise InputError(f"unknown lake engine `{engine}`", where=str(folder), hint="duckdb or spark")
        self.folder = folder
        self.engine = engine
        self.where = f"parquet{'+spark' if engine == 'spark' else ''}://{folder}"

    def _path(self, collection: str) -> Path:
        path = self.folder / f"{collection}.parquet"
        if not path.is_file():
            raise InputError(f"table `{collection}` is missing (no `{path.name}`)", where=self.where,
                             hint="does the store match its data map?")
        return path

    def _schema(self, collection: str) -> pa.Schema:
        path = self._path(collection)
        try:
            return pq.read_schema(path)
        except (pa.ArrowInvalid, OSError) as exc:
            raise InputError(f"not a readable Parquet file: {exc}", where=str(path)) from None

    def _keys(self, collection: str, match: tuple[str, ...], keys: pa.Table) -> pa.Table:
        """The batch's keys, cast to the file's column types."""
        schema = self._schema(collection)
        missing_fields(collection, schema.names, match, self.where)
        out = prepare_keys(keys, match, f"{collection} keys")
        try:
            return pa.table({m: out[m].cast(schema.field(m).type) for m in match})
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise InputError(f"keys do not fit the columns of `{collection}`: {exc}", where=self.where) from None

    def _hits(self, collection: str, match: tuple[str, ...], keys: pa.Table) -> pa.Array:
        """File row numbers (ascending) of the rows matching the keys."""
        k = self._keys(collection, match, keys)
        if k.num_rows == 0:
            return pa.array([], pa.int64())
        if self.engine == "spark":
            return _spark_hits(self._path(collection), match, k)
        on = " AND ".join(f't."{m}" = k."{m}"' for m in match)
        with duckdb.connect() as con:
            con.register("k", k)
            rows = con.sql(f"SELECT t.file_row_number AS n FROM read_parquet($path, file_row_number = true) t "
                           f"SEMI JOIN k ON {on} ORDER BY n",
                           params={"path": str(self._path(collection))}).to_arrow_table()
        return rows.column("n").combine_chunks().cast(pa.int64())

    def _read(self, collection: str) -> pa.Table:
        return pq.read_table(self._path(collection))

    def _masked(self, table: pa.Table, hits: pa.Array, target: Target) -> tuple[pa.Array, pa.Table]:
        """Row numbers whose masked values change, and the table with those rows masked."""
        if len(hits) == 0:
            return hits, table
        sub = table.take(hits)
        hit = pa.array([False] * len(hits))
        new: dict[str, pa.Array] = {}
        for name, s in target.masks.items():
            new[name] = mask(s, sub[name], f"{target.collection}.{name}").cast(table.schema.field(name).type)
            hit = pc.or_(hit, changed(sub[name], new[name]))
        rows = hits.filter(hit)
        if len(rows) == 0:
            return rows, table
        where = pc.is_in(pa.array(range(table.num_rows), pa.int64()), value_set=rows)
        for name, values in new.items():
            idx = table.schema.get_field_index(name)
            column = pc.replace_with_mask(table[name].combine_chunks(), where, values.filter(hit))
            table = table.set_column(idx, table.schema.field(name), column)
        return rows, table

    def _write(self, collection: str, table: pa.Table) -> None:
        path = self._path(collection)
        tmp = path.with_name(path.name + ".tmp")
        pq.write_table(table, tmp)
        with tmp.open("rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        fd = os.open(self.folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def _prepare(self, target: Target) -> None:
        require_ready(target.masks.values())
        missing_fields(target.collection, self._schema(target.collection).names, target.fields(), self.where)
        for name, s in target.masks.items():
            require_field_strategy(s, f"{target.collection}.{name}")

    # -- the interface ----------------------------------------------------------------------

    def check(self, need: Mapping[str, set[str]]) -> None:
        for name, fields in need.items():
            missing_fields(name, self._schema(name).names, fields, self.where)

    def count(self, target: Target, keys: pa.Table) -> int:
        self._prepare(target)
        hits = self._hits(target.collection, target.match, keys)
        if target.action == "delete":
            return len(hits)
        return len(self._masked(self._read(target.collection), hits, target)[0])

    def retrieve(self, collection: str, match: tuple[str, ...], keys: pa.Table,
                 fields: Sequence[str]) -> pa.Table:
        missing_fields(collection, self._schema(collection).names, fields, self.where)
        hits = self._hits(collection, match, keys)
        return pq.read_table(self._path(collection), columns=list(dict.fromkeys(fields))).take(hits)

    def apply(self, target: Target, keys: pa.Table) -> Applied:
        self._prepare(target)
        hits = self._hits(target.collection, target.match, keys)
        if len(hits) == 0:
            return Applied(0)
        table = self._read(target.collection)
        if target.action == "delete":
            keep = pc.invert(pc.is_in(pa.array(range(table.num_rows), pa.int64()), value_set=hits))
            self._write(target.collection, table.filter(keep))
            return Applied(len(hits))
        rows, table = self._masked(table, hits, target)
        if len(rows):
            self._write(target.collection, table)
        return Applied(len(rows))

    def close(self) -> None:
        """Nothing is held open between calls."""


def _spark_hits(path: Path, match: tuple[str, ...], keys: pa.Table) -> pa.Array:
    """The Spark path: file row numbers of the rows matching the keys, by a left semi join.

    Each file is read as one split (`maxPartitionBytes`), so `zipWithIndex` numbers the rows
    in file order, as DuckDB's `file_row_number` does.
    """
    from tutela.connectors.spark import local_session

    spark = local_session()
    spark.conf.set("spark.sql.files.maxPartitionBytes", str(1 << 40))
    frame = spark.read.parquet(str(path)).select(*match)
    names = list(match)
    from pyspark.sql.types import LongType, StructField, StructType

    schema = StructType([*frame.schema.fields, StructField("n", LongType(), False)])  # also for an empty file
    indexed = spark.createDataFrame(frame.rdd.zipWithIndex().map(lambda r: (*(r[0][m] for m in names), r[1])),
                                    schema)
    k = spark.createDataFrame(keys.to_pandas())
    got = indexed.join(k, names, "left_semi").select("n").orderBy("n").toPandas()
    return pa.array(got["n"].tolist(), pa.int64())
