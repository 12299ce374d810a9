"""Query engines the audit runs its Ibis expressions on: DuckDB (default) or Spark (local)."""

from __future__ import annotations

from typing import Any, Literal, Protocol

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from tutela.connectors.spark import local_session
from tutela.errors import InputError
from tutela.query.source import EstateSource

EngineName = Literal["duckdb", "spark"]


class Backend(Protocol):
    def register(self, name: str, table: pa.Table) -> ir.Table:
        """An Arrow table as a table of the engine."""
        ...

    def persist(self, name: str, expr: ir.Table) -> ir.Table:
        """An expression's result as a table of the engine, computed once."""
        ...

    def read(self, name: str, source: EstateSource, table: str, columns: list[str]) -> ir.Table:
        """Columns of an estate's table as a table of the engine."""
        ...

    def close(self) -> None: ...


class DuckDB:
    def __init__(self) -> None:
        self.con = ibis.duckdb.connect()

    def register(self, name: str, table: pa.Table) -> ir.Table:
        self.con.con.register(name, table)  # a view of the Arrow data: no copy
        return self.con.table(name)

    def persist(self, name: str, expr: ir.Table) -> ir.Table:
        return self.con.create_table(name, expr, temp=True)  # stays inside DuckDB

    def read(self, name: str, source: EstateSource, table: str, columns: list[str]) -> ir.Table:
        path = source.parquet_file(table)
        if path is not None:  # DuckDB scans the file itself, in parallel, when a query needs it
            return self.con.read_parquet(path, table_name=name).select(*columns)
        return self.register(name, source.read(table, columns))

    def close(self) -> None:
        self.con.disconnect()


class Spark:
    """PySpark in local mode (two threads); the same expressions as on DuckDB."""

    def __init__(self) -> None:
        self.spark: Any = local_session()
        self.con = ibis.pyspark.connect(self.spark)

    def register(self, name: str, table: pa.Table) -> ir.Table:
        from pyspark.sql.pandas.types import from_arrow_schema

        schema = from_arrow_schema(table.schema)  # explicit, so empty tables work too
        frame = table.combine_chunks().to_pandas()
        self.spark.createDataFrame(frame, schema=schema).createOrReplaceTempView(name)
        return self.con.table(name)

    def persist(self, name: str, expr: ir.Table) -> ir.Table:
        return self.register(name, expr.to_pyarrow())

    def read(self, name: str, source: EstateSource, table: str, columns: list[str]) -> ir.Table:
        return self.register(name, source.read(table, columns))

    def close(self) -> None:
        for view in self.spark.catalog.listTables():
            self.spark.catalog.dropTempView(view.name)


def open_backend(name: EngineName) -> Backend:
    if name == "duckdb":
        return DuckDB()
    if name == "spark":
        return Spark()
    raise InputError(f"unknown engine `{name}`", where="--engine", hint="duckdb or spark")
