"""A synthetic city export with planted anomalies of every kind, and its answer key.

``python -m cardkit.register.synthetic OUT.csv --rows 130000`` writes the export (the city's
columns, CRLF, UTF-8) and ``OUT.truth.csv`` (``NO, KIND, REF``: REF is the NIK or, for a
household duplicate, the KK of the row duplicated). Kinds: clean, dup_exact, dup_same_nik,
dup_near (a NIK one digit or one OCR confusion off with a slightly different name, or a new
NIK with an Indonesian spelling variant of the name at the same address), dup_household,
invalid_nik, malformed, outside_city, sex_mismatch. Namesakes (same name, birth date and
kelurahan, another address and family card) are planted as clean rows: precision must
survive them.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import random
from collections.abc import Callable
from pathlib import Path

from .validate import EXPORT_COLUMNS

KECAMATAN = {
    "01": ("PALARAN", ["BANTUAS", "BUKUAN", "HANDIL BAKTI", "RAWA MAKMUR", "SIMPANG PASIR"]),
    "02": ("SAMARINDA ILIR", ["PELITA", "SELILI", "SIDODAMAI", "SIDOMULYO", "SUNGAI DAMA"]),
    "03": ("SAMARINDA SEBERANG", ["BAQA", "GUNUNG PANJANG", "MANGKUPALAS", "MESJID",
                                  "SUNGAI KELEDANG", "TENUN"]),
    "04": ("SUNGAI KUNJANG", ["KARANG ANYAR", "KARANG ASAM ILIR", "KARANG ASAM ULU",
                              "LOA BAKUNG", "LOA BUAH", "LOK BAHU", "TELUK LERONG ULU"]),
    "05": ("SAMARINDA ULU", ["AIR HITAM", "AIR PUTIH", "BUKIT PINANG", "DADI MULYA",
                             "GUNUNG KELUA", "JAWA", "SIDODADI", "TELUK LERONG ILIR"]),
    "06": ("SAMARINDA UTARA", ["BUDAYA PAMPANG", "LEMPAKE", "SEMPAJA BARAT", "SEMPAJA SELATAN",
                               "SEMPAJA TIMUR", "SEMPAJA UTARA", "SUNGAI SIRING", "TANAH MERAH"]),
    "07": ("SAMBUTAN", ["MAKROMAN", "PULAU ATAS", "SAMBUTAN", "SINDANG SARI", "SUNGAI KAPIH"]),
    "08": ("SUNGAI PINANG", ["BANDARA", "GUNUNG LINGAI", "MUGIREJO", "SUNGAI PINANG DALAM",
                             "TEMINDUNG PERMAI"]),
    "09": ("SAMARINDA KOTA", ["BUGIS", "KARANG MUMUS", "PASAR PAGI", "PELABUHAN",
                              "SUNGAI PINANG LUAR"]),
    "10": ("LOA JANAN ILIR", ["HARAPAN BARU", "RAPAK DALAM", "SENGKOTEK", "SIMPANG TIGA",
                              "TANI AMAN"]),
}
STREETS = ["JL. BENGKURING", "JL. CENDANA", "JL. DI PANJAITAN", "JL. JUANDA", "JL. KADRIE OENING",
           "JL. KH. WAHID HASYIM", "JL. LAMBUNG MANGKURAT", "JL. MAS BETAHAN", "JL. P. SUYURAN",
           "JL. PANGERAN ANTASARI", "JL. PM NOOR", "JL. RAPAK INDAH", "JL. SLAMET RIYADI",
           "JL. SULTAN HASANUDDIN"]
MALE = ["ABDUL", "AGUS", "AHMAD", "ANDI", "ARIFIN", "BAHRUN", "BUDI", "DARMANSYAH", "EDI",
        "FAHMI", "FIRDAUS", "GUSTI", "HAIRUL", "HAMDANI", "HASAN", "HENDRA", "IMRAN", "IRWANSYAH",
        "ISMAIL", "JOKO", "JUMADI", "KASMAN", "LUKMAN", "MAHMUD", "MISRAN", "MUHAMMAD", "NORDIN",
        "RAHMAT", "RIDWAN", "RUDIANSYAH", "RUSDI", "SAIPUL", "SAMSUL", "SLAMET", "SULAIMAN",
        "SUPARMAN", "SUPRIADI", "SYAHRANI", "TAUFIK", "WAHYU", "YUSUF", "ZAINAL"]
FEMALE = ["AMINAH", "ASNIAH", "DEWI", "FATIMAH", "FITRI", "HALIMAH", "HERLINA", "INDAH",
          "JAMILAH", "KARTINI", "LESTARI", "MARIATI", "MASITAH", "MURNI", "NORHAYATI", "NORJANAH",
          "NUR", "NURHAYATI", "RAHMAH", "RATNA", "RINA", "ROSMIATI", "SALMAH", "SITI", "SRI",
          "SUMIATI", "SURIANI", "WAHYUNI", "YULIANA", "ZUBAIDAH"]
SURNAMES = ["ANSHARI", "ARSYAD", "ASMAN", "BAKRI", "HALIM", "HAMZAH", "HIDAYAT", "IDRIS", "JAYA",
            "KURNIAWAN", "LATIF", "MANSYUR", "NOOR", "RAHMAN", "RIFAI", "SALEH", "SAPUTRA",
            "SETIAWAN", "SYAFEI", "WIJAYA", "YUNUS", "ASTUTI", "HANDAYANI", "HASANAH", "NINGSIH",
            "PURNAMASARI", "RAHAYU", "SARI", "WATI", "ROHANI", "MAWARNI", "NURHALIZA", "IMRAN",
            "SAIPUL", "HAIRUL", "FITRIANI", "AHMAD", "MUHAMMAD", "SITI", "NUR"]
PLACES = ["SAMARINDA"] * 3 + ["TENGGARONG", "MAKASSAR", "SURABAYA", "BANJARMASIN", "BALIKPAPAN"]
PROGRAMMES = ["BELUM"] * 4 + ["BPNT", "BPNT;KKS", "PKH;BPNT", "KKS", "PKH", "PKH;BPNT;KKS"]
KINDS = {  # share of all rows
    "dup_exact": 0.0024, "dup_same_nik": 0.0024, "dup_near": 0.0024, "dup_household": 0.0024,
    "invalid_nik": 0.0024, "malformed": 0.0012, "outside_city": 0.0012, "sex_mismatch": 0.0012,
}
NAMESAKES = 0.001
OCR = {"0": "O", "1": "I", "5": "S", "8": "B", "2": "Z"}

Row = dict[str, str]


class Generator:
    """Draws people, households and anomalies from one seeded random source."""

    def __init__(self, seed: int) -> None:
        self.rnd = random.Random(seed)
        self.niks: set[str] = set()
        self.kks: set[str] = set()

    def _unique(self, seen: set[str], prefix: str) -> str:
        while True:
            value = prefix + f"{self.rnd.randint(1, 9999):04d}"
            if value not in seen:
                seen.add(value)
                return value

    def nik(self, kec: str, birth: dt.date, sex: str, city: str = "6472") -> str:
        day = birth.day + (40 if sex == "P" else 0)
        return self._unique(self.niks, f"{city}{kec}{day:02d}{birth:%m%y}")

    def kk(self, kec: str) -> str:
        issued = dt.date(2005, 1, 1) + dt.timedelta(days=self.rnd.randint(0, 6000))
        return self._unique(self.kks, f"6472{kec}{issued:%d%m%y}")

    def name(self, sex: str) -> str:
        first = self.rnd.choice(MALE if sex == "L" else FEMALE)
        rest = self.rnd.sample(SURNAMES, 2 if self.rnd.random() < 0.25 else 1)
        return " ".join([first, *rest])

    def address(self) -> str:
        return (f"{self.rnd.choice(STREETS)} GG. {self.rnd.randint(1, 37)} "
                f"NO. {self.rnd.randint(1, 199)}")

    def person(self) -> Row:
        rnd = self.rnd
        sex = "L" if rnd.random() < 0.56 else "P"
        birth = dt.date(1940, 1, 1) + dt.timedelta(days=rnd.randint(0, 23000))
        kec = f"{rnd.randint(1, 10):02d}"
        kecamatan, kelurahan = KECAMATAN[kec]
        return {"NIK": self.nik(kec, birth, sex), "NO_KK": self.kk(kec), "NAMA": self.name(sex),
                "JENIS_KELAMIN": sex, "TEMPAT_LAHIR": rnd.choice(PLACES),
                "TANGGAL_LAHIR": birth.strftime("%d-%m-%Y"), "ALAMAT": self.address(),
                "RT": f"{rnd.randint(1, 59):03d}", "KELURAHAN": rnd.choice(kelurahan),
                "KECAMATAN": kecamatan, "STATUS_BANSOS": rnd.choice(PROGRAMMES)}

    # --- name variants -------------------------------------------------------------------
    def light_variant(self, name: str) -> str:
        """A typing slip: a dropped last letter, title case, stray spaces, or a final E."""
        rnd = self.rnd
        choice = rnd.randrange(4)
        if choice == 0:
            return name[:-1]
        if choice == 1:
            return name.title()
        if choice == 2:
            return f"  {name} "
        return name + "E" if name[-1] == "I" else name[:-1]

    def spelling_variant(self, name: str, sex: str) -> str:
        """The same name as another clerk writes it (Indonesian spelling variants)."""
        rnd = self.rnd
        words = name.split()
        swaps = {"MUHAMMAD": ["M.", "MUHAMAD", "MOHAMMAD", "MOH."], "NOOR": ["NUR"], "NUR": ["NOOR"],
                 "SAIPUL": ["SAIFUL"], "HAIRUL": ["KHAIRUL"], "FITRI": ["FITRIE"],
                 "YUSUF": ["JOESOEF", "YUSUP"], "JOKO": ["DJOKO"], "JUMADI": ["DJUMADI"],
                 "YUNUS": ["JUNUS", "JOENOES"], "SYAFEI": ["SJAFEI", "SAFEI"],
                 "RAHMAT": ["RACHMAT"], "RAHMAN": ["RACHMAN"], "SURIANI": ["SOERIANI"]}
        options: list[Callable[[], list[str]]] = []
        for i, word in enumerate(words):
            if word in swaps:
                options.append(lambda i=i, w=word: [*words[:i], rnd.choice(swaps[w]),
                                                    *words[i + 1:]])
        if len(words) >= 2:
            options.append(lambda: [*words[1:], words[0]])
        options.append(lambda: ["H." if sex == "L" else "HJ.", *words])
        long_words = [i for i, w in enumerate(words) if len(w) >= 5]
        if long_words:
            def drop() -> list[str]:
                i = rnd.choice(long_words)
                j = rnd.randrange(1, len(words[i]) - 1)
                return [*words[:i], words[i][:j] + words[i][j + 1:], *words[i + 1:]]
            options.append(drop)
        return " ".join(rnd.choice(options)())

    # --- anomalies -----------------------------------------------------------------------
    def anomaly(self, kind: str, base: Row) -> tuple[Row, str]:
        """A planted row of ``kind`` (a copy of ``base`` or a new person) and its REF."""
        rnd = self.rnd
        if kind == "dup_exact":
            return dict(base), base["NIK"]
        if kind == "dup_same_nik":
            row = dict(base)
            if rnd.random() < 0.8:
                row["NAMA"] = self.light_variant(base["NAMA"])
            else:
                row["RT"] = f"{(int(base['RT']) % 59) + 1:03d}"
            return row, base["NIK"]
        if kind == "dup_near":
            return self.near(base), base["NIK"]
        if kind == "dup_household":
            row = self.person()
            row["NO_KK"] = base["NO_KK"]
            row["KELURAHAN"], row["KECAMATAN"] = base["KELURAHAN"], base["KECAMATAN"]
            return row, base["NO_KK"]
        row = self.person()
        if kind == "invalid_nik":
            row["NIK"] = self.invalid_nik(row["NIK"])
        elif kind == "malformed":
            self.malform(row)
        elif kind == "outside_city":
            row["NIK"] = rnd.choice(["6471", "6402", "6403", "6474"]) + row["NIK"][4:]
        elif kind == "sex_mismatch":
            row["JENIS_KELAMIN"] = "P" if row["JENIS_KELAMIN"] == "L" else "L"
        return row, ""

    def near(self, base: Row) -> Row:
        rnd = self.rnd
        row = dict(base)
        nik = base["NIK"]
        mode = rnd.random()
        if mode < 0.5:  # one digit of the serial mistyped
            i = rnd.randrange(12, 16)
            digit = rnd.choice([d for d in "0123456789" if d != nik[i]])
            row["NIK"] = nik[:i] + digit + nik[i + 1:]
            if row["NIK"] in self.niks:
                row["NIK"] = nik[:i] + str((int(nik[i]) + 5) % 10) + nik[i + 1:]
            self.niks.add(row["NIK"])
            row["NAMA"] = self.light_variant(base["NAMA"]) if rnd.random() < 0.7 else base["NAMA"]
        elif mode < 0.7:  # a letter read for a digit (OCR or typing)
            places = [i for i, d in enumerate(nik) if d in OCR and i >= 4]
            i = rnd.choice(places)
            row["NIK"] = nik[:i] + OCR[nik[i]] + nik[i + 1:]
            row["NAMA"] = self.light_variant(base["NAMA"]) if rnd.random() < 0.5 else base["NAMA"]
        else:  # registered again under a new NIK serial, the name spelt another way
            prefix = nik[:12]
            while True:
                serial = f"{rnd.randint(1, 9999):04d}"
                if sum(a != b for a, b in zip(serial, nik[12:], strict=True)) >= 2 and \
                        prefix + serial not in self.niks:
                    break
            row["NIK"] = prefix + serial
            self.niks.add(row["NIK"])
            row["NAMA"] = self.spelling_variant(base["NAMA"], base["JENIS_KELAMIN"])
            if rnd.random() < 0.5:
                row["NO_KK"] = self.kk(nik[4:6])
        return row

    def invalid_nik(self, nik: str) -> str:
        rnd = self.rnd
        choice = rnd.randrange(5)
        if choice == 0:
            i = rnd.randrange(4, 16)
            return nik[:i] + nik[i + 1:]
        if choice == 1:
            i = rnd.randrange(4, 16)
            return nik[:i] + str(rnd.randrange(10)) + nik[i:]
        if choice == 2:
            return nik[:4] + "A" + nik[5:]
        if choice == 3:
            return nik[:6] + rnd.choice(["32", "00", "72", "38"]) + nik[8:]
        return nik[:8] + rnd.choice(["13", "00", "19"]) + nik[10:]

    def malform(self, row: Row) -> None:
        choice = self.rnd.randrange(5)
        if choice == 0:
            row["NIK"] = ""
        elif choice == 1:
            row["NAMA"] = ""
        elif choice == 2:
            row["TANGGAL_LAHIR"] = "31-02-" + row["TANGGAL_LAHIR"][-4:]
        elif choice == 3:
            row["NAMA"] = row["NAMA"].split()[0] + " 2"
        else:
            row["JENIS_KELAMIN"] = "X"

    def namesake(self, base: Row) -> Row:
        """Another person: same name, birth date, sex and kelurahan; other address and KK."""
        row = self.person()
        birth = dt.datetime.strptime(base["TANGGAL_LAHIR"], "%d-%m-%Y").date()
        kec = base["NIK"][4:6]
        prefix = base["NIK"][:12]
        while True:
            serial = f"{self.rnd.randint(1, 9999):04d}"
            if sum(a != b for a, b in zip(serial, base["NIK"][12:], strict=True)) >= 3 and \
                    prefix + serial not in self.niks:
                break
        self.niks.add(prefix + serial)
        row.update(NIK=prefix + serial, NAMA=base["NAMA"], JENIS_KELAMIN=base["JENIS_KELAMIN"],
                   TANGGAL_LAHIR=birth.strftime("%d-%m-%Y"), KELURAHAN=base["KELURAHAN"],
                   KECAMATAN=base["KECAMATAN"], NO_KK=self.kk(kec))
        return row


def generate(rows: int = 130_000, seed: int = 10) -> tuple[list[Row], list[tuple[str, str]]]:
    """``rows`` export rows (with NO) and the truth (KIND, REF) per row, in export order."""
    gen = Generator(seed)
    planted = {kind: max(1, round(rows * share)) for kind, share in KINDS.items()}
    namesakes = max(1, round(rows * NAMESAKES))
    clean = rows - sum(planted.values()) - namesakes
    people = [gen.person() for _ in range(clean)]
    out: list[tuple[Row, str, str]] = [(p, "clean", "") for p in people]
    bases = gen.rnd.sample(range(clean), sum(planted.values()) + namesakes)
    cursor = 0
    for kind, count in planted.items():
        for _ in range(count):
            row, ref = gen.anomaly(kind, people[bases[cursor]])
            cursor += 1
            out.append((row, kind, ref))
    for _ in range(namesakes):
        out.append((gen.namesake(people[bases[cursor]]), "clean", ""))
        cursor += 1
    gen.rnd.shuffle(out)
    export, truth = [], []
    for no, (row, kind, ref) in enumerate(out, start=1):
        export.append({"NO": str(no), **row})
        truth.append((kind, ref))
    return export, truth


def write(path: Path, rows: int = 130_000, seed: int = 10) -> Path:
    """Write the export to ``path`` and its answer key beside it (``*.truth.csv``)."""
    export, truth = generate(rows, seed)
    truth_path = path.with_name(path.stem + ".truth.csv")
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(EXPORT_COLUMNS.values()))
        writer.writeheader()
        writer.writerows(export)
    with truth_path.open("w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["NO", "KIND", "REF"])
        for row, (kind, ref) in zip(export, truth, strict=True):
            out.writerow([row["NO"], kind, ref])
    return truth_path


def main(argv: list[str] | None = None) -> None:
    """Command line: ``python -m cardkit.register.synthetic OUT.csv [--rows N] [--seed S]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--rows", type=int, default=130_000)
    parser.add_argument("--seed", type=int, default=10)
    args = parser.parse_args(argv)
    truth = write(args.out, args.rows, args.seed)
    print(f"wrote {args.out} and {truth}")


if __name__ == "__main__":
    main()
