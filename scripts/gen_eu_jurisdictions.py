"""One-off generator for the EU/EEA member-state rulebook files (kept for reproducibility).

The files it writes are data and are edited by hand afterwards; re-run only to start over.
Ages follow the Commission's staff working document SWD(2020) 115 (GDPR two-year review),
p.17, as recorded in shared/reference/law-notes.md §1a.
"""

from pathlib import Path

SWD = "https://eur-lex.europa.eu/legal-content/EN/TXT/?uri=CELEX:52020SC0115"
GDPR8 = ("Regulation (EU) 2016/679 (GDPR)", "Art. 8(1) (default 16, no national derogation)",
         "https://eur-lex.europa.eu/eli/reg/2016/679/oj")
# code: (name, age, national instrument, section, url-or-None, primary_checked)
STATES = {
    "AT": ("Austria", 14, "Datenschutzgesetz (DSG)", "§ 4(4)", None),
    "BE": ("Belgium", 13, "Law of 30 July 2018 on the protection of natural persons", "Art. 7", None),
    "BG": ("Bulgaria", 14, "Personal Data Protection Act", "Art. 25c", None),
    "CY": ("Cyprus", 14, "Law 125(I)/2018", "Art. 8", None),
    "CZ": ("Czechia", 15, "Act No. 110/2019 Coll. on personal data processing", "§ 7", None),
    "DE": ("Germany", 16, None, None, None),
    "DK": ("Denmark", 13, "Databeskyttelsesloven (Act No. 502 of 23 May 2018)", "§ 6(2)", None),
    "EE": ("Estonia", 13, "Isikuandmete kaitse seadus (Personal Data Protection Act)", "§ 8", None),
    "ES": ("Spain", 14, "Ley Orgánica 3/2018 (LOPDGDD)", "Art. 7", "https://www.boe.es/eli/es/lo/2018/12/05/3"),
    "FI": ("Finland", 13, "Tietosuojalaki (1050/2018)", "§ 5", "https://www.finlex.fi/fi/laki/ajantasa/2018/20181050"),
    "FR": ("France", 15, "Loi n° 78-17 Informatique et Libertés (as amended 2018)", "Art. 45", "https://www.legifrance.gouv.fr/loda/id/JORFTEXT000000886460"),
    "GR": ("Greece", 15, "Law 4624/2019", "Art. 21", None),
    "HR": ("Croatia", 16, "Act on the Implementation of the GDPR (NN 42/2018)", "Art. 19", None),
    "HU": ("Hungary", 16, None, None, None),
    "IE": ("Ireland", 16, "Data Protection Act 2018", "s. 31", "https://www.irishstatutebook.ie/eli/2018/act/7/section/31/enacted/en/html"),
    "IT": ("Italy", 14, "D.Lgs. 196/2003 (Codice privacy) as amended by D.Lgs. 101/2018", "Art. 2-quinquies", None),
    "LT": ("Lithuania", 14, "Law on the Legal Protection of Personal Data", "Art. 6", None),
    "LU": ("Luxembourg", 16, None, None, None),
    "LV": ("Latvia", 13, "Personal Data Processing Law", "s. 33", None),
    "MT": ("Malta", 13, "Data Protection Act (Cap. 586) and S.L. 586.11", "reg. 3", None),
    "NL": ("Netherlands", 16, "Uitvoeringswet AVG (UAVG)", "Art. 5", "https://wetten.overheid.nl/BWBR0040940"),
    "PL": ("Poland", 16, None, None, None),
    "PT": ("Portugal", 13, "Lei n.º 58/2019", "Art. 16", None),
    "RO": ("Romania", 16, None, None, None),
    "SE": ("Sweden", 13, "Dataskyddslagen (2018:218)", "ch. 2 § 4", None),
    "SI": ("Slovenia", 15, "ZVOP-2 (Personal Data Protection Act)", "Art. 8", None),
    "SK": ("Slovakia", 16, "Act No. 18/2018 Coll.", "§ 15", None),
}


def consent_entry(code: str, age: int, inst: str | None, sec: str | None, url: str | None,
                  start: str, end: str | None = None, suffix: str = "") -> str:
    below = "parent_and_child" if code == "FR" else "parent"
    if inst is None:
        instrument, section, link = GDPR8
        checked = "true"
    else:
        instrument, section, link = inst, sec, url or SWD
        checked = "false"
    lines = [
        f"  - id: {code}-GDPR.art8{suffix}",
        f"    age: {age}",
        f"    below: {below}",
        f"    effective_from: {start}",
    ]
    if end:
        lines.append(f"    effective_to: {end}")
    lines += [
        "    citation:",
        f"      instrument: \"{instrument}\"",
        f"      section: \"{section}\"",
        f"      url: \"{link}\"",
        f"      primary_checked: {checked}",
        "      source_followed: \"Commission SWD(2020) 115, p.17 (age table); national instrument per law-notes\"",
    ]
    if code == "FR":
        lines.append("      note: \"Below 15 the child and a holder of parental responsibility consent jointly.\"")
    return "\n".join(lines)


def main() -> None:
    out = Path("src/tutela/data/rulebook/jurisdictions")
    for code, (name, age, inst, sec, url) in STATES.items():
        if code == "SI":
            entries = [
                consent_entry(code, 16, None, None, None, "2018-05-25", "2023-01-26", ".default"),
                consent_entry(code, age, inst, sec, url, "2023-01-26"),
            ]
        else:
            entries = [consent_entry(code, age, inst, sec, url, "2018-05-25")]
        text = (
            f"code: {code}\nname: {name}\ninherits: [EU-GDPR, EU-EPRIVACY, EU-DSA]\n"
            "digital_consent:\n" + "\n".join(entries) + "\n"
        )
        (out / f"{code}.yaml").write_text(text)


if __name__ == "__main__":
    main()
