"""A synthetic city month (or several) for tests and the demo: Samarinda's ten kecamatan and
their kelurahan, the national programmes (PKH, BPNT, KKS) and three city OPD programmes.

Every household also gets a made-up NIK, KK number and name in a side table
(:attr:`SyntheticCity.households`) that the report never receives; tests search the published
report for each of them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from .facts import Fact, household_pseudonym

#: Samarinda's kecamatan (with their NIK region digits 5-6) and kelurahan.
SAMARINDA: dict[str, tuple[str, tuple[str, ...]]] = {
    "Palaran": ("01", ("Rawa Makmur", "Handil Bakti", "Bukuan", "Simpang Pasir", "Bantuas")),
    "Samarinda Seberang": (
        "02",
        ("Sungai Keledang", "Baqa", "Mesjid", "Mangkupalas", "Tenun", "Gunung Panjang"),
    ),
    "Samarinda Ulu": (
        "03",
        (
            "Teluk Lerong Ilir",
            "Jawa",
            "Air Putih",
            "Sidodadi",
            "Air Hitam",
            "Dadi Mulya",
            "Gunung Kelua",
            "Bukit Pinang",
        ),
    ),  # fmt: skip
    "Samarinda Ilir": ("04", ("Selili", "Sungai Dama", "Sidomulyo", "Sidodamai", "Pelita")),
    "Samarinda Utara": (
        "05",
        (
            "Sempaja Selatan",
            "Lempake",
            "Sungai Siring",
            "Sempaja Utara",
            "Tanah Merah",
            "Sempaja Barat",
            "Sempaja Timur",
            "Budaya Pampang",
        ),
    ),  # fmt: skip
    "Sungai Kunjang": (
        "06",
        (
            "Loa Bakung",
            "Loa Buah",
            "Karang Asam Ulu",
            "Lok Bahu",
            "Teluk Lerong Ulu",
            "Karang Asam Ilir",
            "Karang Anyar",
        ),
    ),  # fmt: skip
    "Sambutan": ("07", ("Sungai Kapih", "Sambutan", "Makroman", "Sindang Sari", "Pulau Atas")),
    "Sungai Pinang": (
        "08",
        ("Temindung Permai", "Sungai Pinang Dalam", "Gunung Lingai", "Mugirejo", "Bandara"),
    ),
    "Samarinda Kota": (
        "09",
        ("Karang Mumus", "Pelabuhan", "Pasar Pagi", "Bugis", "Sungai Pinang Luar"),
    ),
    "Loa Janan Ilir": (
        "10",
        ("Simpang Tiga", "Tani Aman", "Sengkotek", "Harapan Baru", "Rapak Dalam"),
    ),
}


@dataclass(frozen=True)
class Programme:
    """An aid programme: its code, its name, who runs it, who is in it and what it pays."""

    code: str
    name: str
    agency: str
    share: float  # of households enrolled
    monthly: int  # rupiah loaded per enrolled household in a month it pays
    every: int = 1  # pays every ``every`` months (PKH: quarterly)


PROGRAMMES: tuple[Programme, ...] = (
    Programme("PKH", "Program Keluarga Harapan", "Kementerian Sosial", 0.30, 750_000, every=3),
    Programme("BPNT", "Bantuan Pangan Non Tunai", "Kementerian Sosial", 0.55, 200_000),
    Programme("KKS", "Kartu Keluarga Sejahtera", "Kementerian Sosial", 0.20, 100_000),
    Programme(
        "SANTUNAN-LANSIA", "Santunan Lanjut Usia", "Dinas Sosial Kota Samarinda", 0.06, 300_000
    ),  # fmt: skip
    Programme(
        "BEASISWA-KOTA",
        "Beasiswa Pelajar Kurang Mampu",
        "Dinas Pendidikan dan Kebudayaan Kota Samarinda",
        0.04,
        250_000,
    ),  # fmt: skip
    Programme(
        "PANGAN-KOTA", "Bantuan Pangan Kota", "Dinas Ketahanan Pangan Kota Samarinda", 0.10, 150_000
    ),  # fmt: skip
)

_GIVEN = ("SITI", "NUR", "BUDI", "AHMAD", "DEWI", "RINA", "AGUS", "YULI", "RAHMAT", "HASAN",
          "SRI", "MUHAMMAD", "FITRI", "ANDI", "WAHYU", "LINDA", "IRWAN", "ROSITA",
          "JUNAIDI")  # fmt: skip
_FAMILY = ("AMINAH", "SANTOSO", "HIDAYAT", "RAHAYU", "SAPUTRA", "LESTARI", "PRATAMA",
           "HANDAYANI", "SETIAWAN", "WULANDARI", "KURNIAWAN", "SARI", "GUNAWAN",
           "MARLINA")  # fmt: skip


@dataclass(frozen=True)
class SyntheticHousehold:
    """Side-table row: the personal data a register would hold (never given to the report)."""

    household_key: str
    kk_number: str
    nik: str
    name: str
    kecamatan: str
    kelurahan: str


@dataclass(frozen=True)
class SyntheticCity:
    """Facts for the report plus the side table of who the households are."""

    facts: list[Fact]
    households: list[SyntheticHousehold]
    months: list[str]


def _months(start: str, count: int) -> list[str]:
    year, month = (int(x) for x in start.split("-"))
    out = []
    for i in range(count):
        y, m = divmod(month - 1 + i, 12)
        out.append(f"{year + y:04d}-{m + 1:02d}")
    return out


def _person(rng: random.Random, region: str, serial: int) -> tuple[str, str, str]:
    day = rng.randint(1, 28) + (40 if rng.random() < 0.5 else 0)
    birth = f"{day:02d}{rng.randint(1, 12):02d}{rng.randint(50, 99):02d}"
    nik = f"6472{region}{birth}{serial % 10000:04d}"
    kk = f"6472{region}{rng.randint(0, 9_999_999_999):010d}"
    name = f"{rng.choice(_GIVEN)} {rng.choice(_GIVEN)} {rng.choice(_FAMILY)}"
    return nik, kk, name


def synthetic_city(
    *,
    households: int = 3000,
    merchants: int = 150,
    months: int = 6,
    start: str = "2025-01",
    seed: int = 11,
    secret: bytes = b"synthetic-report-secret!",
) -> SyntheticCity:
    """A reproducible city: ``households`` spread over the kelurahan (a few small ones, so
    some cells fall under the threshold), ``merchants`` shops per kecamatan share, ``months``
    months from ``start``. About 1 % of spending is flagged at settlement (not paid out)."""
    rng = random.Random(seed)
    places = [(kec, kel) for kec, (_, kels) in SAMARINDA.items() for kel in kels]
    # uneven sizes: most kelurahan weigh 1-3, three are tiny (island, new settlements)
    weights = [rng.uniform(1.0, 3.0) for _ in places]
    for tiny in ("Pulau Atas", "Bantuas", "Budaya Pampang"):
        weights[[kel for _, kel in places].index(tiny)] = 0.08
    # shops sit in a kelurahan; households shop mostly in their own, sometimes next door
    shops: dict[tuple[str, str], list[str]] = {place: [] for place in places}
    for i in range(merchants):
        shops[places[i % len(places)]].append(f"m{i:05d}")
    period = _months(start, months)
    people: list[SyntheticHousehold] = []
    facts: list[Fact] = []
    for serial in range(1, households + 1):
        kec, kel = rng.choices(places, weights)[0]
        nik, kk, name = _person(rng, SAMARINDA[kec][0], serial)
        key = household_pseudonym(secret, kk)
        people.append(SyntheticHousehold(key, kk, nik, name, kec, kel))
        enrolled = [p for p in PROGRAMMES if rng.random() < p.share]
        nearby = [s for (k, _), v in shops.items() if k == kec for s in v] or [
            s for v in shops.values() for s in v
        ]
        local = shops[(kec, kel)] if shops[(kec, kel)] and rng.random() < 0.8 else nearby
        for index, month in enumerate(period):
            for prog in enrolled:
                if index % prog.every:
                    continue
                loaded = prog.monthly * prog.every
                facts.append(Fact(month, prog.code, prog.agency, kec, kel, key, "", loaded, 0, 0))
                left = int(loaded * rng.uniform(0.6, 1.0)) // 500 * 500
                chosen = rng.sample(local, k=min(len(local), rng.randint(1, 3)))
                for n, shop in enumerate(chosen, start=1):
                    spent = left if n == len(chosen) else left // 2 // 500 * 500
                    if spent <= 0:
                        continue
                    left -= spent
                    paid = 0 if rng.random() < 0.01 else spent
                    facts.append(Fact(month, prog.code, prog.agency, kec, kel, key, shop, 0,
                                      spent, paid))  # fmt: skip
    return SyntheticCity(facts, people, period)
