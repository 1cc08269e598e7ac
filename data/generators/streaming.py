"""Generate ``data/schemas/streaming/streaming.sql``: a video and music streaming service.

Deterministic: one ``random.Random`` with a fixed seed, lists (never sets or dict order)
drive every choice, and no clock is read, so every run writes the same bytes.
Regenerate with:  python data/generators/streaming.py

Besides the random bulk, a few rows are placed by hand so that questions can tell right
answers from near misses: events exactly on month and year boundaries, a plan nobody
subscribes to, genres without titles, titles without genres or plays, users without
devices or subscriptions, duplicate and accented names, zero-second plays.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

from sqlwriter import InsertLayout, Value, columns_of, comment_on, write_sql

SEED = 20261130
OUT = Path(__file__).resolve().parents[1] / "schemas" / "streaming" / "streaming.sql"

LAYOUT = InsertLayout(chunk=250, between="\n")

SCHEMA = """\
CREATE TABLE plans (
    plan_id integer PRIMARY KEY,
    plan_name text NOT NULL,
    monthly_price numeric(6,2) NOT NULL,
    max_streams integer NOT NULL,
    has_ads boolean NOT NULL,
    launched_on date NOT NULL,
    retired_on date
);

CREATE TABLE users (
    user_id integer PRIMARY KEY,
    display_name text NOT NULL,
    email text NOT NULL UNIQUE,
    country_code char(2),
    signup_date date NOT NULL,
    birth_year integer,
    referred_by integer REFERENCES users (user_id),
    is_verified boolean NOT NULL
);

CREATE TABLE subscriptions (
    subscription_id integer PRIMARY KEY,
    user_id integer NOT NULL REFERENCES users (user_id),
    plan_id integer NOT NULL REFERENCES plans (plan_id),
    started_on date NOT NULL,
    ended_on date,
    billing_period text NOT NULL,
    price_paid numeric(6,2) NOT NULL,
    cancel_reason text
);

CREATE TABLE titles (
    title_id integer PRIMARY KEY,
    title_name text NOT NULL,
    media_type text NOT NULL,
    release_year integer NOT NULL,
    runtime_minutes integer,
    maturity_rating text,
    original_language char(2) NOT NULL,
    is_original boolean NOT NULL,
    added_on date NOT NULL
);

CREATE TABLE genres (
    genre_id integer PRIMARY KEY,
    genre_name text NOT NULL,
    parent_genre_id integer REFERENCES genres (genre_id)
);

CREATE TABLE title_genres (
    title_id integer NOT NULL REFERENCES titles (title_id),
    genre_id integer NOT NULL REFERENCES genres (genre_id),
    is_primary boolean NOT NULL,
    PRIMARY KEY (title_id, genre_id)
);

CREATE TABLE devices (
    device_id integer PRIMARY KEY,
    user_id integer NOT NULL REFERENCES users (user_id),
    device_type text NOT NULL,
    os_name text,
    registered_at timestamp NOT NULL
);

CREATE TABLE play_events (
    event_id integer PRIMARY KEY,
    user_id integer NOT NULL REFERENCES users (user_id),
    title_id integer NOT NULL REFERENCES titles (title_id),
    device_id integer REFERENCES devices (device_id),
    started_at timestamp NOT NULL,
    seconds_played integer NOT NULL,
    completed boolean NOT NULL
);

CREATE TABLE ratings (
    user_id integer NOT NULL REFERENCES users (user_id),
    title_id integer NOT NULL REFERENCES titles (title_id),
    stars integer NOT NULL,
    rated_at timestamp NOT NULL,
    review_text text,
    PRIMARY KEY (user_id, title_id)
);
"""

COMMENTS: list[tuple[str, str | None, str]] = [
    ("plans", None, "Subscription plans on offer, past and present."),
    ("plans", "monthly_price", "List price per month in US dollars; 0.00 for the free tier."),
    ("plans", "max_streams", "How many devices may stream at the same time on one account."),
    ("plans", "has_ads", "True when the plan shows advertisements."),
    ("plans", "retired_on", "Last day the plan could be bought; NULL while still sold."),
    ("users", None, "Accounts of people who signed up to the service."),
    ("users", "display_name", "Name shown in the app; chosen by the user, not unique."),
    ("users", "country_code", "ISO 3166-1 alpha-2 country of the billing address; NULL if never given."),
    ("users", "birth_year", "Self-reported year of birth; NULL when not given."),
    ("users", "referred_by", "The user whose invitation brought this user in; NULL for none."),
    ("users", "is_verified", "True once the user confirmed their email address."),
    ("subscriptions", None, "Periods during which a user paid for (or held) a plan."),
    ("subscriptions", "started_on", "First day of the subscription."),
    ("subscriptions", "ended_on", "Last day of the subscription; NULL while it is still active."),
    ("subscriptions", "billing_period", "'monthly' or 'annual'."),
    (
        "subscriptions",
        "price_paid",
        "Price actually charged per month in US dollars, after any discount; 0.00 on free or trial periods.",
    ),
    (
        "subscriptions",
        "cancel_reason",
        "Why the user ended it: 'price', 'content', 'technical', 'moved_plan' or 'other'; NULL if active or not given.",
    ),
    ("titles", None, "The catalogue: films, series, music albums and podcasts."),
    ("titles", "media_type", "'film', 'series', 'album' or 'podcast'."),
    (
        "titles",
        "runtime_minutes",
        "Running time in minutes (per episode for series and podcasts, whole album for albums); NULL if unknown.",
    ),
    (
        "titles",
        "maturity_rating",
        "Audience rating: 'G', 'PG', 'PG-13', 'R' or 'TV-MA'; NULL when unrated (most music).",
    ),
    ("titles", "original_language", "ISO 639-1 code of the original language, e.g. 'en', 'es'."),
    ("titles", "is_original", "True for titles produced by the service itself."),
    ("titles", "added_on", "Date the title became available on the service."),
    ("genres", None, "Genres, in a two-level tree."),
    ("genres", "parent_genre_id", "The broader genre this one belongs to; NULL for top-level genres."),
    ("title_genres", None, "Which genres each title is filed under (a title may have none or several)."),
    ("title_genres", "is_primary", "True for the one genre the title is mainly filed under."),
    ("devices", None, "Devices registered by users to play titles."),
    ("devices", "device_type", "'smart_tv', 'phone', 'tablet', 'browser', 'console' or 'speaker'."),
    ("devices", "os_name", "Operating system reported by the device; NULL when it did not say."),
    ("play_events", None, "One row per playback session of a title by a user."),
    ("play_events", "device_id", "Device used; NULL when the session came from an unregistered device."),
    ("play_events", "started_at", "When playback started, in UTC."),
    (
        "play_events",
        "seconds_played",
        "Seconds actually played in this session; 0 when playback was abandoned at once.",
    ),
    ("play_events", "completed", "True when the session reached the end of the title (or episode)."),
    ("ratings", None, "Star ratings users gave titles; at most one per user and title."),
    ("ratings", "stars", "Rating from 1 (worst) to 5 (best)."),
    ("ratings", "review_text", "Optional written review; NULL when the user wrote none."),
]

PLANS: list[tuple[int, str, str, int, bool, str, str | None]] = [
    (1, "Free", "0.00", 1, True, "2019-01-01", None),
    (2, "Basic with Ads", "6.99", 1, True, "2021-01-01", None),
    (3, "Standard", "11.99", 2, False, "2019-01-01", None),
    (4, "Premium", "17.99", 4, False, "2019-01-01", None),
    (5, "Family", "17.99", 6, False, "2022-03-01", None),
    (6, "Student", "5.99", 1, False, "2021-09-01", "2024-12-31"),
    (7, "Música Plus", "9.99", 2, False, "2025-06-01", None),
]

FIRST = [
    "José",
    "Zoë",
    "Amélie",
    "Björn",
    "Łukasz",
    "Chloé",
    "Søren",
    "Noémie",
    "Ömer",
    "Inés",
    "Anna",
    "Liam",
    "Mia",
    "Noah",
    "Emma",
    "Lucas",
    "Sofia",
    "Mateo",
    "Aiko",
    "Ravi",
    "Fatima",
    "Chen",
    "Olga",
    "Kwame",
    "Priya",
    "Diego",
    "Hana",
    "Tomás",
    "Elif",
    "Jonas",
]
LAST = [
    "García",
    "Müller",
    "Nguyen",
    "Okafor",
    "Silva",
    "Kowalski",
    "Dubois",
    "Sato",
    "Patel",
    "Smith",
    "Jensen",
    "Rossi",
    "Ivanova",
    "Yılmaz",
    "O'Brien",
    "Andersson",
]
HANDLES = ["DJ_karim", "nightOwl", "CaféCrème", "binge_queen", "MovieBuff42", "zoë_b", "the_ROCKET"]
COUNTRIES = ["US", "US", "US", "GB", "BR", "DE", "FR", "IN", "MX", "JP", "ES", "CA"]

ADJ = [
    "Silent",
    "Crimson",
    "Última",
    "Northern",
    "Hidden",
    "Electric",
    "Broken",
    "Golden",
    "Lost",
    "Midnight",
    "Paper",
    "Wild",
    "Quiet",
    "Blue",
    "Distant",
    "Hollow",
    "Fading",
    "Bright",
]
NOUN = [
    "Harbor",
    "Ola",
    "Frontier",
    "Garden",
    "Signal",
    "Orchard",
    "Kingdom",
    "Echo",
    "River",
    "Café",
    "Lantern",
    "Circuit",
    "Horizon",
    "Mirror",
    "Station",
    "Tide",
    "Canyon",
    "Letters",
]
LANGS = ["en", "en", "en", "en", "es", "fr", "de", "ja", "ko", "pt", "hi"]

# (genre_id, name, parent): Western and Ópera have no titles on purpose.
GENRES: list[tuple[int, str, int | None]] = [
    (1, "Drama", None),
    (2, "Comedy", None),
    (3, "Documentary", None),
    (4, "Music", None),
    (5, "Thriller", 1),
    (6, "Romance", 1),
    (7, "Crime", 1),
    (8, "Animation", None),
    (9, "Science Fiction", 1),
    (10, "True Crime", 3),
    (11, "Jazz", 4),
    (12, "Electrónica", 4),
    (13, "Hip-Hop", 4),
    (14, "Clásica", 4),
    (15, "Kids & Family", None),
    (16, "Western", 1),
    (17, "Ópera", 4),
]
VIDEO_GENRES = [1, 2, 3, 5, 6, 7, 8, 9, 10, 15]
MUSIC_GENRES = [4, 11, 12, 13, 14]
PODCAST_GENRES = [2, 3, 10]
DEVICE_TYPES = ["smart_tv", "phone", "phone", "tablet", "browser", "console", "speaker"]
OS_BY_TYPE = {
    "smart_tv": ["Tizen", "webOS", "Android TV", None],
    "phone": ["iOS", "Android", "Android"],
    "tablet": ["iPadOS", "Android", None],
    "browser": ["Windows", "macOS", "Linux", "ChromeOS", None],
    "console": ["PlayStation", "Xbox", None],
    "speaker": [None, "SpeakerOS"],
}
REVIEWS = [
    "Loved it.",
    "Too long.",
    "Great soundtrack!",
    "meh",
    "Não gostei.",
    "Perfecto para el fin de semana.",
    "Would watch again",
    "The ending was rushed.",
    "Superbe.",
    "Not for kids.",
]

START = dt.date(2021, 1, 1)
END = dt.date(2025, 10, 31)


def day_between(rng: random.Random, first: dt.date, last: dt.date) -> dt.date:
    return first + dt.timedelta(days=rng.randint(0, (last - first).days))


def moment_on(rng: random.Random, day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time()) + dt.timedelta(seconds=rng.randint(0, 86399))


def make_users(rng: random.Random) -> list[list[Value]]:
    rows: list[list[Value]] = []
    for user_id in range(1, 321):
        if user_id % 23 == 0:
            name = HANDLES[(user_id // 23) % len(HANDLES)]
        else:
            name = f"{rng.choice(FIRST)} {rng.choice(LAST)[0]}."
        email = f"user{user_id:04d}@example.{rng.choice(['com', 'net', 'org'])}"
        country = None if rng.random() < 0.08 else rng.choice(COUNTRIES)
        signup = day_between(rng, START, dt.date(2025, 6, 30))
        birth = None if rng.random() < 0.15 else rng.randint(1950, 2008)
        referred = rng.randint(1, user_id - 1) if user_id > 10 and rng.random() < 0.2 else None
        rows.append([user_id, name, email, country, signup, birth, referred, rng.random() < 0.85])
    # Sign-ups exactly on year and month boundaries.
    for user_id, day in [
        (5, "2022-01-01"),
        (6, "2023-01-01"),
        (7, "2024-02-29"),
        (8, "2023-12-31"),
        (9, "2024-01-01"),
    ]:
        rows[user_id - 1][4] = dt.date.fromisoformat(day)
    rows[11][1] = "josé g."  # another José, in lower case: text compares exactly
    rows[13][1] = "Seán O'Brien"  # a quote to escape
    return rows


def make_subscriptions(rng: random.Random, users: Sequence[Sequence[Value]]) -> list[list[Value]]:
    rows: list[list[Value]] = []
    reasons = ["price", "price", "content", "technical", "moved_plan", "other", None]
    for user in users:
        user_id, signup = user[0], user[4]
        assert isinstance(signup, dt.date)
        if user_id % 11 == 0:  # some users never subscribed
            continue
        day = signup + dt.timedelta(days=rng.randint(0, 30))
        for _ in range(rng.choice([1, 1, 1, 2, 2, 3])):
            if day > END:
                break
            plan = rng.choice([1, 2, 3, 3, 3, 4, 4, 5, 6])
            if plan == 5 and day < dt.date(2022, 3, 1):
                plan = 4
            if plan == 6 and day > dt.date(2024, 12, 31):
                plan = 3
            price = Decimal(PLANS[plan - 1][2])
            if price and rng.random() < 0.2:
                price = (price * Decimal("0.8")).quantize(Decimal("0.01"))
            period = "annual" if plan != 1 and rng.random() < 0.25 else "monthly"
            length = rng.randint(20, 900)
            ended: dt.date | None = day + dt.timedelta(days=length)
            if ended is not None and ended > END:
                ended = None
            reason = rng.choice(reasons) if ended is not None else None
            rows.append([len(rows) + 1, user_id, plan, day, ended, period, price, reason])
            if ended is None:
                break
            day = ended + dt.timedelta(days=rng.choice([1, 1, 5, 40]))
    # A subscription that ended the day before 1 January 2024 (one ends on it, two start on
    # it, one starts the day after): "running on 1 January 2024" bounds all differ.
    for row in rows:
        if isinstance(row[4], dt.date) and dt.date(2023, 12, 26) <= row[4] <= dt.date(2023, 12, 31):
            row[4] = dt.date(2023, 12, 31)
            break
    return rows


def make_titles(rng: random.Random) -> list[list[Value]]:
    rows: list[list[Value]] = []
    kinds = ["film"] * 5 + ["series"] * 3 + ["album"] * 3 + ["podcast"]
    for title_id in range(1, 161):
        kind = rng.choice(kinds)
        name = f"{rng.choice(ADJ)} {rng.choice(NOUN)}"
        if kind == "album" and rng.random() < 0.3:
            name += " (Live)"
        year = rng.randint(1994, 2025)
        if kind == "film":
            runtime: int | None = rng.randint(78, 172)
        elif kind == "series":
            runtime = rng.choice([22, 24, 30, 45, 52, 58])
        elif kind == "album":
            runtime = rng.randint(31, 74)
        else:
            runtime = rng.randint(18, 95)
        if rng.random() < 0.07:
            runtime = None
        if kind in ("film", "series"):
            rating: str | None = rng.choice(["G", "PG", "PG-13", "PG-13", "R", "TV-MA", None])
        else:
            rating = "TV-MA" if kind == "podcast" and rng.random() < 0.2 else None
        lang = rng.choice(LANGS)
        added = max(day_between(rng, START, dt.date(2025, 9, 30)), dt.date(year, 1, 1))
        rows.append([title_id, name, kind, year, runtime, rating, lang, rng.random() < 0.2, added])
    # Hand-placed names: a duplicate title (a remake), shouting and lower-case names.
    rows[9][1:4] = ["Homecoming", "film", 2004]
    rows[10][1:4] = ["Homecoming", "series", 2022]
    rows[20][1] = "ECHOES OF SÃO PAULO"
    rows[21][1] = "after hours (live)"
    rows[22][1] = "Nuit Blanche à Montréal"
    for row in rows[9:11]:
        row[8] = max(row[8], dt.date(row[3], 1, 1))  # type: ignore[arg-type,type-var]
    # Additions on the last day of a quarter and the first day of the next (Q1 2025 bounds).
    for row, day in [(rows[30], "2025-03-31"), (rows[31], "2025-04-01")]:
        row[8] = dt.date.fromisoformat(day)
        row[3] = min(row[3], 2025)  # type: ignore[type-var]
    return rows


def make_title_genres(rng: random.Random, titles: Sequence[Sequence[Value]]) -> list[list[Value]]:
    rows: list[list[Value]] = []
    for title in titles:
        title_id, kind = title[0], title[2]
        assert isinstance(title_id, int)
        if title_id % 17 == 0:  # filed under no genre yet
            continue
        pool = MUSIC_GENRES if kind == "album" else PODCAST_GENRES if kind == "podcast" else VIDEO_GENRES
        picked = rng.sample(pool, rng.choice([1, 1, 2, 2, 3]))
        for i, genre_id in enumerate(picked):
            rows.append([title_id, genre_id, i == 0])
    return rows


def make_devices(rng: random.Random, users: Sequence[Sequence[Value]]) -> list[list[Value]]:
    rows: list[list[Value]] = []
    for user in users:
        user_id, signup = user[0], user[4]
        assert isinstance(user_id, int) and isinstance(signup, dt.date)
        if user_id % 13 == 0:  # never registered a device
            continue
        for n in range(rng.choice([1, 1, 2, 2, 2, 3, 4])):
            kind = rng.choice(DEVICE_TYPES)
            day = day_between(rng, signup, min(signup + dt.timedelta(days=400), END))
            # The first device is the one the user signed up on: registered that same day.
            when = moment_on(rng, signup if n == 0 else day)
            rows.append([len(rows) + 1, user_id, kind, rng.choice(OS_BY_TYPE[kind]), when])
    return rows


def make_plays(
    rng: random.Random,
    users: Sequence[Sequence[Value]],
    titles: Sequence[Sequence[Value]],
    devices: Sequence[Sequence[Value]],
) -> list[list[Value]]:
    by_user: dict[int, list[int]] = {}
    registered: dict[int, dt.datetime] = {}
    for device in devices:
        by_user.setdefault(device[1], []).append(device[0])  # type: ignore[arg-type]
        registered[device[0]] = device[4]  # type: ignore[index,assignment]

    def usable(user_id: int, picked: int | None, when: dt.datetime) -> int | None:
        """A session cannot come from a device registered after it started: fall back to the
        user's latest device registered by then, or to none (an unregistered device)."""
        if picked is None or registered[picked] <= when:
            return picked
        earlier = [d for d in by_user[user_id] if registered[d] <= when]
        return max(earlier, key=lambda d: registered[d]) if earlier else None

    # Popularity is skewed; every 19th title is never played.
    playable = [t for t in titles if t[0] % 19 != 0]
    weights = [1 + (i * 7919) % 13 for i in range(len(playable))]
    active = [u for u in users if u[0] % 29 != 0]  # a few users never play anything
    rows: list[list[Value]] = []
    for event_id in range(1, 3001):
        user = rng.choice(active)
        title = rng.choices(playable, weights)[0]
        first = max(user[4], title[8])  # type: ignore[type-var]
        assert isinstance(first, dt.date)
        when = moment_on(rng, day_between(rng, first, END))
        devs = by_user.get(user[0], [])  # type: ignore[arg-type]
        device = rng.choice(devs) if devs and rng.random() > 0.06 else None
        device = usable(user[0], device, when)  # type: ignore[arg-type]
        runtime = title[4] if isinstance(title[4], int) else 60
        roll = rng.random()
        if roll < 0.05:
            seconds, done = 0, False
        elif roll < 0.55:
            seconds, done = runtime * 60 - rng.randint(0, 90), True
        else:
            seconds, done = rng.randint(15, runtime * 60 - 120), False
        rows.append([event_id, user[0], title[0], device, when, seconds, done])
    # Sessions exactly on and just before month and year boundaries.
    edges = [
        "2024-01-01 00:00:00",
        "2023-12-31 23:59:59",
        "2025-03-01 00:00:00",
        "2024-02-29 23:59:59",
        "2023-01-01 00:00:00",
        "2024-12-31 23:59:59",
        "2025-01-01 00:00:00",
        "2022-07-01 00:00:00",
    ]
    signed_up = {u[0]: u[4] for u in users}
    added = {t[0]: t[8] for t in titles}
    for i, stamp in enumerate(edges):
        when = dt.datetime.fromisoformat(stamp)
        # The first session from row 100 + 37 i on whose user had signed up and whose title
        # was available by then: no session precedes its user's sign-up or its title.
        # The session at 2025-01-01 00:00 is by a user with no 2024 session, so taking it
        # into 2024 (`<= '2025-01-01'`) adds a player to a genre's distinct 2024 players.
        played_2024 = {r[1] for r in rows if r[4].year == 2024} if when.year == 2025 else set()  # type: ignore[union-attr]
        k = 100 + i * 37
        while (
            signed_up[rows[k][1]] > when.date()  # type: ignore[index,operator]
            or added[rows[k][2]] > when.date()  # type: ignore[index,operator]
            or rows[k][1] in played_2024
            or (when.year == 2025 and rows[k][2] % 17 == 0)  # type: ignore[operator]
        ):
            k += 1
        rows[k][4] = when
        rows[k][3] = usable(rows[k][1], rows[k][3], when)  # type: ignore[arg-type]
    return rows


def make_ratings(rng: random.Random, plays: Sequence[Sequence[Value]]) -> list[list[Value]]:
    seen: dict[tuple[int, int], dt.datetime] = {}
    for play in plays:
        key = (play[1], play[2])
        if key not in seen and rng.random() < 0.3:
            seen[key] = play[4]  # type: ignore[assignment]
    rows: list[list[Value]] = []
    for (user_id, title_id), played in seen.items():
        stars = rng.choices([1, 2, 3, 4, 5], [1, 2, 4, 6, 5])[0]
        rated = played + dt.timedelta(minutes=rng.randint(30, 60 * 24 * 20))
        review = rng.choice(REVIEWS) if rng.random() < 0.3 else None
        rows.append([user_id, title_id, stars, rated, review])
    rows.sort(key=lambda r: (r[0], r[1]))  # type: ignore[arg-type,return-value]
    return rows


def comments() -> str:
    return "".join(comment_on(table, column, text) + "\n" for table, column, text in COMMENTS)


def build() -> str:
    rng = random.Random(SEED)
    plans = [
        [
            p[0],
            p[1],
            Decimal(p[2]),
            p[3],
            p[4],
            dt.date.fromisoformat(p[5]),
            dt.date.fromisoformat(p[6]) if p[6] else None,
        ]
        for p in PLANS
    ]
    users = make_users(rng)
    subscriptions = make_subscriptions(rng, users)
    titles = make_titles(rng)
    title_genres = make_title_genres(rng, titles)
    devices = make_devices(rng, users)
    plays = make_plays(rng, users, titles, devices)
    ratings = make_ratings(rng, plays)
    # A sign-up on 31 December 2022: the first user who signed up in the second half of
    # January 2023 did so a few weeks earlier (after everything else was drawn, so nothing of
    # theirs precedes it and no other row moves).
    late_january = next(u for u in users if dt.date(2023, 1, 16) <= u[4] <= dt.date(2023, 1, 31))  # type: ignore[operator]
    late_january[4] = dt.date(2022, 12, 31)
    genres: list[list[Value]] = [list(g) for g in GENRES]
    tables = {
        "plans": plans,
        "users": users,
        "subscriptions": subscriptions,
        "titles": titles,
        "genres": genres,
        "title_genres": title_genres,
        "devices": devices,
        "play_events": plays,
        "ratings": ratings,
    }
    parts = ["-- Generated by data/generators/streaming.py; do not edit by hand.\n", SCHEMA, comments()]
    parts += [LAYOUT.inserts(name, columns_of(SCHEMA, name), rows) for name, rows in tables.items()]
    return "\n".join(parts)


def main() -> None:
    write_sql(OUT, build())


if __name__ == "__main__":
    main()
