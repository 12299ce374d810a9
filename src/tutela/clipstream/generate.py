"""`generate`: a deterministic, realistic ClipStream estate, and the violations planted in it.

    summary = generate("sqlite:///clipstream.db", accounts=2000, seed=7)

Everything comes from one `random.Random(seed)` and a fixed reference date (`AS_OF`), so
the same seed gives the same rows and files. The generator keeps its own records of every
subject (true and declared birth dates, the ages it planted in texts, the consents it gave)
and computes the ground truth from them (`tutela.clipstream.truth`), stored apart from the estate.
"""

from __future__ import annotations

import datetime as dt
import gc
import os
import random
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tutela.clipstream import media as mediafiles
from tutela.clipstream import records, targets, truth, vocab
from tutela.clipstream.records import Person, person_grant
from tutela.clipstream.schema import TABLES
from tutela.errors import InputError
from tutela.policy import age_on
from tutela.rulebook import Rulebook, load_rulebook

AS_OF = dt.date(2026, 11, 1)  # the estate's "now" and the audit date for rows without a time
AS_OF_DT = dt.datetime(2026, 11, 1)
WINDOW_DAYS = 730  # every timestamp lies within the two years before AS_OF
DEFAULT_MEDIA_FILES = 600  # media rows that get real files by default (avatars: at most 300)
MEDIA_SUBDIRS = {"media", "avatars"}
LEGACY_PUBLIC_BEFORE = dt.datetime(2025, 9, 1)  # minors' accounts created before: public by default
# Accounts whose events the deletion job never reached: their watch history, ad impressions and
# location pings span the whole account life, past the data map's retention_days. Everyone
# else's (and, in a lawful estate, everyone's) stay within the declared retention.
NEVER_PURGED_SHARE = 0.2


Progress = Callable[[str, int, int], None]
_SECOND = dt.timedelta(seconds=1)


def _days_before(day: dt.date, years: int) -> dt.date:
    return records.implied_birth(day, years)


class _Gen:
    def __init__(self, n: int, seed: int, lawful: bool, rows: int | None, book: Rulebook):
        self.n, self.lawful, self.rows_target, self.book = n, lawful, rows, book
        self.rng = random.Random(seed)
        self.t: dict[str, list[tuple[Any, ...]]] = {t.name: [] for t in TABLES}
        self.people: dict[int, Person] = {}
        self.true_birth: dict[int, dt.date] = {}
        self.created: dict[int, dt.datetime] = {}
        self.stats = {"minors": 0, "liars": 0, "liars_stating_age": 0, "public_default_minors": 0,
                      "profiled_ads_to_minors": 0, "never_purged": 0}
        self.never_purged: set[int] = set()
        cmap, _ = records.datamap()
        # days an event may be old: the declared retention of its collection
        self.keep = {name: cmap[name].retention or WINDOW_DAYS
                     for name in ("watch_history", "ad_impressions", "location_pings")}
        self.consent_id = 0
        self.media_id = 0
        codes = list(vocab.JURISDICTIONS)
        self.codes = codes
        self.weights = [vocab.JURISDICTIONS[c][0] for c in codes]
        self.procs = [i + 1 for i, p in enumerate(vocab.PROCESSORS) if p[6] or not lawful]
        self.proc_weights = [vocab.PROCESSOR_WEIGHTS[i - 1] for i in self.procs]

    # -------------------------------------------------------------------- helpers
    def when(self, start: dt.datetime, within_days: int | None = None) -> dt.datetime:
        lo = start if within_days is None else max(start, AS_OF_DT - dt.timedelta(days=within_days - 1))
        span = (AS_OF_DT - lo) // _SECOND
        return lo + dt.timedelta(seconds=int(self.rng.random() * span))

    def ri(self, a: int, b: int) -> int:
        """A random integer in [a, b] (faster than `randint`)."""
        return a + int(self.rng.random() * (b - a + 1))

    def point(self, jur: str) -> tuple[float, float]:
        _, lat, lon, _ = vocab.JURISDICTIONS[jur]
        r = self.rng
        return round(lat + r.uniform(-0.4, 0.4), 5), round(lon + r.uniform(-0.4, 0.4), 5)

    def consent(self, aid: int, scopes: tuple[str, ...], by: str, assurance: str, method: str | None,
                granted: dt.date, expires: dt.date | None = None, revoked: dt.date | None = None) -> None:
        self.consent_id += 1
        text = "|".join(scopes)
        self.t["consents"].append((self.consent_id, aid, text, by, assurance, method, granted, expires, revoked))
        self.people[aid].grants.append(person_grant(text, by, assurance, granted, expires, revoked))

    def age_text(self, aid: int, base: str, day: dt.date) -> str:
        """`base` with the subject's true age at `day` in one of the recognised forms; recorded."""
        age = age_on(self.true_birth[aid], day)
        self.people[aid].signals.append((age, day))
        stated = self.rng.choice(vocab.AGE_FORMS).format(a=age)
        return f"{stated} {base}" if self.rng.random() < 0.5 else f"{base} | {stated}"

    # -------------------------------------------------------------------- accounts
    def accounts(self) -> None:
        r, lawful = self.rng, self.lawful
        for aid in range(1, self.n + 1):
            jur = r.choices(self.codes, self.weights)[0]
            minor = r.random() < 0.25
            age_now = self.ri(8, 17) if minor else self.ri(18, 60)
            true_birth = _days_before(AS_OF, age_now) - dt.timedelta(days=self.ri(1, 364))
            created = AS_OF_DT - dt.timedelta(days=WINDOW_DAYS) + dt.timedelta(
                seconds=self.ri(0, (WINDOW_DAYS - 30) * 86400 - 1))
            cday = created.date()
            age_c = age_on(true_birth, cday)
            dc = self.book.digital_consent(jur, cday)
            under_dc = dc is not None and age_c < dc.age
            liar = not lawful and under_dc and r.random() < 0.45
            declared = true_birth
            if liar:
                declared = _days_before(cday, r.randint(18, 30)) - dt.timedelta(days=r.randrange(1, 365))
            adj, noun = vocab.ADJ[self.ri(0, len(vocab.ADJ) - 1)], vocab.NOUN[self.ri(0, len(vocab.NOUN) - 1)]
            handle = f"{adj}_{noun}{self.ri(0, 9999)}"
            email = f"{handle}@example.{('com', 'net', 'org')[self.ri(0, 2)]}"
            phone = f"+{vocab.JURISDICTIONS[jur][3]} 555 {self.ri(10**6, 10**7 - 1)}" if r.random() < 0.6 else None
            ip = f"198.{18 + self.ri(0, 1)}.{self.ri(0, 255)}.{self.ri(1, 254)}"
            device = f"{r.getrandbits(128):032x}"
            self.t["accounts"].append((aid, handle, email, phone, declared, jur, ip, device, created))
            self.people[aid] = Person(aid, jur, declared, cday)
            self.true_birth[aid] = true_birth
            self.created[aid] = created
            self.stats["minors"] += minor
            self.stats["liars"] += liar
            if not lawful and r.random() < NEVER_PURGED_SHARE:
                self.never_purged.add(aid)
                self.stats["never_purged"] += 1
            self._consents(aid, jur, cday, age_c, liar)
            self._profile(aid, jur, created, age_c, liar, minor)

    def _consents(self, aid: int, jur: str, cday: dt.date, age_c: int, liar: bool) -> None:
        r = self.rng
        minor_in_window = age_c < 18
        if self.lawful:
            self.consent(aid, (*vocab.SELF_SCOPES, "biometric_written_release"), "self", "declared", "checkbox", cday)
            self.consent(aid, ("special_category",), "self", "declared", "checkbox", cday)
            if minor_in_window and not liar:
                m = r.choice(vocab.METHODS_VERIFIED)
                self.consent(aid, (*vocab.PARENT_SCOPES, "biometric_written_release"), "parent", "verified", m, cday)
                self.consent(aid, ("third_party_disclosure",), "parent", "verified", m, cday)
                self.consent(aid, ("special_category",), "parent", "verified", m, cday)
            return

        def lapse() -> tuple[dt.date | None, dt.date | None]:
            x = r.random()
            if x < 0.06:
                return cday + dt.timedelta(days=r.randint(30, 500)), None  # expired
            if x < 0.12:
                return None, cday + dt.timedelta(days=r.randint(10, 500))  # revoked
            return None, None

        scopes = list(vocab.SELF_SCOPES)
        if jur != "US-IL" or r.random() < 0.5:
            scopes.append("biometric_written_release")
        if r.random() < 0.2:  # some adults never gave some of the consents
            for s in r.sample(vocab.SELF_SCOPES, r.randint(1, 3)):
                scopes.remove(s)
        if not minor_in_window or liar:
            self.consent(aid, tuple(scopes), "self", "declared", "checkbox", cday, *lapse())
            if r.random() < 0.5:
                self.consent(aid, ("special_category",), "self", "declared", "checkbox", cday)
            return
        state = r.choices(("none", "self_only", "parent_unverified", "parent_verified"), (20, 25, 25, 30))[0]
        if state == "none":
            return
        if state in ("self_only", "parent_verified") or r.random() < 0.5:
            self.consent(aid, tuple(scopes), "self", "declared", "checkbox", cday, *lapse())
        if state == "parent_unverified":  # a "parent" nobody checked: a box ticked, an email typed
            self.consent(aid, vocab.PARENT_SCOPES, "parent", "declared", r.choice(("checkbox", "email_plus")),
                         cday, *lapse())
        elif state == "parent_verified":
            m = r.choice(vocab.METHODS_VERIFIED)
            self.consent(aid, vocab.PARENT_SCOPES, "parent", "verified", m, cday, *lapse())
            if r.random() < 0.3:
                self.consent(aid, ("third_party_disclosure",), "parent", "verified", m, cday)

    def _profile(self, aid: int, jur: str, created: dt.datetime, age_c: int, liar: bool, minor: bool) -> None:
        r = self.rng
        bio: str | None = r.choice(vocab.BIO) if r.random() < 0.8 else None
        if not self.lawful and bio is not None:
            if liar and r.random() < 0.4:
                bio = self.age_text(aid, bio, created.date())
            elif minor and not liar and r.random() < 0.2:  # honest kids say their age too
                bio = self.age_text(aid, bio, created.date())
        avatar = f"avatars/{aid}.jpg" if r.random() < 0.7 else None
        if age_c < 18 and not liar:
            if not self.lawful and created < LEGACY_PUBLIC_BEFORE and r.random() < 0.7:
                vis, by = "public", "default"
                self.stats["public_default_minors"] += 1
            else:
                vis, by = "private", "default"
        else:
            vis, by = ("public", "user") if r.random() < 0.55 else ("private", r.choice(("user", "default")))
        self.t["profiles"].append((aid, bio, avatar, vis, by))

    # -------------------------------------------------------------------- content and events
    def content(self) -> None:
        r, lawful = self.rng, self.lawful
        n = self.n
        scaled = self.rows_target is not None
        for aid in range(1, n + 1):
            p = self.people[aid]
            jur, created = p.jurisdiction, self.created[aid]
            liar = p.declared_birth != self.true_birth[aid]
            says_age = liar and not p.signals and r.random() < 0.7
            where_says = r.choice(("caption", "message")) if says_age else None
            age_c = age_on(self.true_birth[aid], created.date())
            # media
            k = r.choices((0, 1, 2, 3, 5), (35, 25, 20, 12, 8))[0]
            if where_says == "caption":
                k = max(k, 1)
            for j in range(k):
                self.media_id += 1
                at = self.when(created)
                kind = "video" if r.random() < 0.6 else "photo"
                caption = r.choice(vocab.CAPTION) if r.random() < 0.75 else None
                if where_says == "caption" and j == 0:
                    caption = self.age_text(aid, caption or r.choice(vocab.CAPTION), at.date())
                geo = r.random() < 0.35 and not (lawful and age_c < 18)
                lat, lon = self.point(jur) if geo else (None, None)
                ext = "mp4" if kind == "video" else "jpg"
                self.t["media"].append((self.media_id, aid, kind, f"media/{self.media_id}.{ext}",
                                        caption, lat, lon, at))
            # messages
            k = r.randint(1, 4) if r.random() < 0.3 else 0
            if where_says == "message":
                k = max(k, 1)
            for j in range(k):
                at = self.when(created)
                body = r.choice(vocab.MESSAGE)
                if where_says == "message" and j == 0:
                    body = self.age_text(aid, body, at.date())
                other = r.randint(1, n)
                self.t["messages"].append((len(self.t["messages"]) + 1, aid, other if other != aid else (aid % n) + 1,
                                           body, at))
            if says_age:
                self.stats["liars_stating_age"] += 1
            # follows
            for other in sorted({self.ri(1, n) for _ in range(self.ri(0, 6))} - {aid}):
                self.t["follows"].append((aid, other, self.when(created)))
            # face templates
            if r.random() < (0.3 if jur == "US-IL" else 0.06):
                self.t["face_templates"].append((len(self.t["face_templates"]) + 1, aid,
                                                 r.choice(("login", "effects")), self.when(created)))
            # transfers
            if r.random() < 0.25:
                for _ in range(r.randint(1, 2)):
                    pid = r.choices(self.procs, self.proc_weights)[0]
                    self.t["transfers"].append((len(self.t["transfers"]) + 1, aid, pid,
                                                r.choice(vocab.TRANSFERRED), self.when(created)))
            if not scaled:
                self._events(aid, self.ri(2, 14), self.ri(0, 8), self.ri(1, 5) if r.random() < 0.4 else 0)
        if scaled:
            assert self.rows_target is not None
            total = self.rows_target
            w, a = int(total * 0.6), int(total * 0.25)
            per: list[list[int]] = [[0, 0, 0] for _ in range(n + 1)]  # events per account and kind
            rand = r.random
            for k, count in enumerate((w, a, total - w - a)):
                for _ in range(count):
                    per[1 + int(rand() * n)][k] += 1
            for aid in range(1, n + 1):
                if any(per[aid]):
                    self._events(aid, *per[aid])
        self.t["processors"] = [(i + 1, *p[:6]) for i, p in enumerate(vocab.PROCESSORS)]

    def _events(self, aid: int, watch: int, ads: int, pings: int) -> None:
        r, lawful = self.rng, self.lawful
        created = self.created[aid]
        jur = self.people[aid].jurisdiction
        wh, ai, lp = self.t["watch_history"], self.t["ad_impressions"], self.t["location_pings"]
        media_n = max(self.media_id, 1)
        ri = self.ri
        rand = r.random
        purged = aid not in self.never_purged
        keep = self.keep
        td = dt.timedelta
        start = max(created, AS_OF_DT - td(days=keep["watch_history"] - 1)) if purged else created
        span = (AS_OF_DT - start) // _SECOND
        for _ in range(watch):
            wh.append((len(wh) + 1, aid, 1 + int(rand() * media_n), 1 + int(rand() * 180),
                       start + td(seconds=int(rand() * span))))
        age_c = age_on(self.true_birth[aid], created.date())
        minor_in_window = age_c < 18
        for _ in range(ads):
            at = self.when(created, keep["ad_impressions"] if purged else None)
            if lawful and minor_in_window:
                profiled = False
            else:
                profiled = r.random() < 0.6
            if profiled:
                seg, targ = vocab.SEGMENTS[ri(0, len(vocab.SEGMENTS) - 1)], "profiled"
                if age_on(self.true_birth[aid], at.date()) < 18:
                    self.stats["profiled_ads_to_minors"] += 1
            else:
                seg, targ = vocab.CONTEXTS[ri(0, len(vocab.CONTEXTS) - 1)], "contextual"
            ai.append((len(ai) + 1, aid, seg, targ, vocab.EXCHANGES[ri(0, len(vocab.EXCHANGES) - 1)], at))
        for _ in range(pings):
            lat, lon = self.point(jur)
            lp.append((len(lp) + 1, aid, lat, lon, round(5 + 75 * r.random(), 1),
                       self.when(created, keep["location_pings"] if purged else None)))


def generate(url: str, accounts: int, seed: int, lawful: bool = False, rows: int | None = None,
             media_dir: Path | None = None, *, media_files: int | None = None,
             progress: Progress | None = None, book: Rulebook | None = None) -> dict[str, Any]:
    """Write a ClipStream estate to `url` and its ground truth to `$TUTELA_HOME/truth/`.

    `media_files` caps how many media rows (and avatars) get real files (default 1000, 0 for
    none). Returns a summary: target, row counts per table, files written, where the truth
    was stored, its findings and timings.
    """
    if accounts < 1:
        raise InputError(f"`--accounts` must be at least 1, got {accounts}", where="accounts")
    if rows is not None and rows < 0:
        raise InputError(f"`--rows` must not be negative, got {rows}", where="rows")
    target = targets.parse_target(url)
    targets.check(target)  # before anything is generated or written
    started = time.perf_counter()
    book = book or load_rulebook()
    gc_was = gc.isenabled()
    gc.disable()  # millions of small tuples: the cyclic collector would rescan them again and again
    try:
        return _generate(target, accounts, seed, lawful, rows, media_dir, media_files, progress, book, started)
    finally:
        if gc_was:
            gc.enable()


def _generate(target: targets.Target, accounts: int, seed: int, lawful: bool, rows: int | None,
              media_dir: Path | None, media_files: int | None, progress: Progress | None, book: Rulebook,
              started: float) -> dict[str, Any]:
    g = _Gen(accounts, seed, lawful, rows, book)
    g.accounts()
    g.content()
    t_gen = time.perf_counter() - started
    findings = truth.compute(book, g.t, g.people, AS_OF)
    t_truth = time.perf_counter() - started - t_gen
    if lawful and findings:
        raise AssertionError(f"the lawful estate has violations: {[f['rule'] for f in findings]}")

    folder = (media_dir or targets.default_media_dir(target)).expanduser().resolve()
    limit = DEFAULT_MEDIA_FILES if media_files is None else media_files
    if rows is not None and media_files is None:
        limit = min(limit, 100)
    written = 0
    staging: Path | None = None
    if limit > 0:
        if media_dir is None:  # the default place (under Tutela's home for a server database)
            folder.parent.mkdir(parents=True, exist_ok=True)
        if not folder.parent.is_dir():
            raise InputError(f"folder `{folder.parent}` does not exist", where="media")
        if folder.exists() and not (folder.is_dir() and {p.name for p in folder.iterdir()} <= MEDIA_SUBDIRS):
            raise InputError(f"`{folder}` exists and is not a ClipStream media folder", where="media",
                             hint="name a new or empty folder with `--media`; it is replaced on every run")
        staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        if staging is not None:
            written = mediafiles.write_files(g.t["media"], g.t["profiles"], staging, limit, seed, progress)
        targets.write(target, g.t, progress)
        if staging is not None:
            if folder.exists():
                shutil.rmtree(folder)
            os.replace(staging, folder)
            staging = None
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
    t_write = time.perf_counter() - started - t_gen - t_truth
    meta = {"seed": seed, "accounts": accounts, "lawful": lawful, "rows": rows,
            "as_of": AS_OF.isoformat(), "generator": "tutela.clipstream.generate"}
    truth_path = truth.store(target.url, findings, meta)
    return {
        "target": target.url,
        "kind": target.kind,
        "seed": seed,
        "lawful": lawful,
        "as_of": AS_OF.isoformat(),
        "tables": {name: len(v) for name, v in g.t.items()},
        "media_dir": str(folder) if limit > 0 else None,
        "media_files": written,
        "truth": str(truth_path),
        "findings": len(findings),
        "mix": dict(g.stats),
        "seconds": {"generate": round(t_gen, 2), "truth": round(t_truth, 2), "write": round(t_write, 2),
                    "total": round(time.perf_counter() - started, 2)},
    }
