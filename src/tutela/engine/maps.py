"""The Engine's part for data maps, reports and the rulebook over time."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tutela.errors import InputError

if TYPE_CHECKING:
    from tutela.audit import Finding
    from tutela.datamap.check import Problem
    from tutela.datamap.draft import Draft as DatamapDraft
    from tutela.rulebook import Rulebook
    from tutela.rulebook.diff import Change
    from tutela.taxonomy import Taxonomy


@dataclass(frozen=True)
class DatamapCheck:
    dataset: str
    collections: int
    fields: int
    declarations: bool
    problems: list[Problem]
    notes: list[Problem]

    def to_dict(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "ok": not self.problems, "collections": self.collections,
                "fields": self.fields, "problems": [p.to_dict() for p in self.problems],
                "notes": [p.to_dict() for p in self.notes]}


class MapsMixin:
    rulebook: Rulebook
    taxonomy: Taxonomy

    def check_datamap(self, file: Path | None = None, declarations: Path | None = None) -> DatamapCheck:
        """A data map (Fides dataset + Tutela declarations) loaded and checked against the taxonomy."""
        from tutela.datamap import check, load_datamap
        from tutela.datamap.check import notes

        dm = load_datamap(file, declarations)
        return DatamapCheck(dm.dataset.fides_key, len(dm.dataset.collections),
                            sum(len(c.fields) for c in dm.dataset.collections), dm.tutela is not None,
                            check(dm, self.taxonomy), notes(dm))

    def draft_datamap(self, url: str, name: str | None = None, schema: str | None = None) -> DatamapDraft:
        """A Fides dataset and a declarations skeleton drafted from a live database's schema, every
        guess marked `# review` (docs/own-database.md); reads the catalogue only."""
        from tutela.connectors.schema import dataset_name, read_schema
        from tutela.connectors.urls import redact
        from tutela.datamap.draft import draft

        return draft(read_schema(url, schema), name or dataset_name(url), redact(url), self.taxonomy)

    def import_datamap(self, file: Path) -> tuple[DatamapCheck, Path | None]:
        """Check a data map and, when it has no problems, store it under $TUTELA_HOME/datamaps/
        (all or nothing); the stored path, or None when it was not stored."""
        import shutil

        from tutela import settings

        checked = MapsMixin.check_datamap(self, file)
        if checked.problems:
            return checked, None
        dest = settings.home() / "datamaps" / f"{checked.dataset}.yml"
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = dest.with_suffix(".yml.tmp")
            shutil.copyfile(file, tmp)
            tmp.replace(dest)
        except OSError as exc:
            raise InputError(f"cannot store the data map: {exc.strerror}", where=str(dest)) from None
        return checked, dest

    def report_html(self, findings: list[Finding], estate: str, as_of: dt.date) -> str:
        """The self-contained HTML audit report (no password in the estate URL it names)."""
        from tutela.audit.report import render
        from tutela.connectors.urls import redact

        return render(findings, redact(estate), as_of, self.rulebook.version)

    def rules_diff(self, start: dt.date, end: dt.date) -> list[Change]:
        """Rules, consent ages and adequacy decisions that start or end in (start, end]."""
        from tutela.rulebook.diff import diff

        return diff(self.rulebook, start, end)

    @staticmethod
    def read_erasure_policy(path: Path) -> Any:
        """An erasure-policy file's values (YAML or JSON); checked when a request is created."""
        from tutela.datamap.erasure import read_policy

        return read_policy(path)

    @staticmethod
    def today() -> dt.date:
        """The day decisions default to (UTC)."""
        return dt.datetime.now(dt.UTC).date()

    @staticmethod
    def display_url(url: str) -> str:
        """A store URL as Tutela shows it: without its password."""
        from tutela.connectors.urls import redact

        return redact(url)
