"""The ClipStream generator's vocabulary: countries, processors, consent scopes, ad segments and
the words its texts are made of."""

from __future__ import annotations

import datetime as dt

# jurisdiction -> (weight, lat, lon, phone country code)
JURISDICTIONS: dict[str, tuple[float, float, float, str]] = {
    "NL": (8, 52.37, 4.89, "31"), "DE": (7, 52.52, 13.40, "49"), "FR": (6, 48.86, 2.35, "33"),
    "IT": (5, 41.90, 12.50, "39"), "ES": (5, 40.42, -3.70, "34"), "PL": (4, 52.23, 21.01, "48"),
    "BE": (2, 50.85, 4.35, "32"), "SE": (2, 59.33, 18.07, "46"), "IE": (2, 53.35, -6.26, "353"),
    "PT": (2, 38.72, -9.14, "351"), "AT": (1.5, 48.21, 16.37, "43"), "RO": (1.5, 44.43, 26.10, "40"),
    "DK": (1, 55.68, 12.57, "45"), "FI": (1, 60.17, 24.94, "358"), "CZ": (1, 50.08, 14.44, "420"),
    "GR": (1, 37.98, 23.73, "30"), "HU": (1, 47.50, 19.04, "36"), "BG": (0.5, 42.70, 23.32, "359"),
    "HR": (0.5, 45.81, 15.98, "385"), "SK": (0.5, 48.15, 17.11, "421"), "SI": (0.3, 46.06, 14.51, "386"),
    "LT": (0.3, 54.69, 25.28, "370"), "LV": (0.3, 56.95, 24.11, "371"), "EE": (0.3, 59.44, 24.75, "372"),
    "LU": (0.2, 49.61, 6.13, "352"), "CY": (0.2, 35.17, 33.36, "357"), "MT": (0.2, 35.90, 14.51, "356"),
    "NO": (0.6, 59.91, 10.75, "47"), "IS": (0.1, 64.15, -21.94, "354"), "LI": (0.05, 47.14, 9.52, "423"),
    "GB": (9, 51.51, -0.13, "44"),
    "US": (6, 38.90, -77.04, "1"), "US-CA": (4, 34.05, -118.24, "1"), "US-NY": (3, 40.71, -74.01, "1"),
    "US-IL": (2, 41.88, -87.63, "1"), "US-TX": (3, 29.76, -95.37, "1"), "US-UT": (1, 40.76, -111.89, "1"),
    "US-VA": (1.5, 37.54, -77.44, "1"), "US-CT": (1, 41.76, -72.67, "1"),
    "BR": (6, -23.55, -46.63, "55"), "IN": (6, 19.08, 72.88, "91"), "AU": (1.5, -33.87, 151.21, "61"),
    "CA-QC": (1, 45.50, -73.57, "1"), "KR": (1, 37.57, 126.98, "82"), "CN": (0.5, 31.23, 121.47, "86"),
}

# (name, kind, country, dpf_certified, scc_module, tia_date, allowed in a lawful estate)
PROCESSORS: tuple[tuple[str, str, str, bool, str | None, dt.date | None, bool], ...] = (
    ("Eirvault Storage", "processor", "IE", False, None, None, True),
    ("Mumbai Moderation Services", "processor", "IN", False, None, None, False),
    ("Pearl River Ad Exchange", "third_party", "CN", False, None, None, False),
    ("Bayline Analytics", "processor", "US", True, None, None, True),
    ("Lone Star Data Brokers", "third_party", "US", False, None, None, False),
    ("Shibuya Render Farm", "processor", "JP", False, None, None, True),
    ("Bengaluru Trust and Safety", "processor", "IN", False, "C2P", dt.date(2024, 9, 16), True),
    ("Paulista CDN", "processor", "BR", False, None, None, False),
    ("Frankfurt Edge Compute", "processor", "DE", False, None, None, True),
    ("Austin Audience Labs", "third_party", "US", False, "C2C", None, False),
)
PROCESSOR_WEIGHTS = (3, 2, 1, 2, 1, 1, 2, 1, 2, 1)

SELF_SCOPES = ("processing", "personalization", "profiling", "marketing", "analytics", "publish",
               "location", "device_access", "sale_sharing")
PARENT_SCOPES = ("processing", "collection", "personalization", "marketing", "analytics", "publish",
                 "location", "device_access", "sale_sharing")
SEGMENTS = ("gaming", "beauty", "sneakers", "snacks", "teen_fashion", "travel", "fitness",
            "music_fans", "pets", "crypto_curious", "back_to_school", "streetwear")
EXCHANGES = ("adx.example", "bidhub.example", "openauction.example", "pearlriver-ssp.example")
CONTEXTS = ("context:music", "context:comedy", "context:sports", "context:cooking", "context:science")
TRANSFERRED = ("watch_history", "media", "accounts", "location_pings", "profiles", "messages",
               "ad_impressions")

ADJ = ("sunny", "pixel", "cosmic", "lazy", "turbo", "velvet", "tiny", "neon", "mellow", "swift",
       "lucky", "quiet", "brave", "frosty", "golden", "wild", "misty", "jolly", "rusty", "zesty")
NOUN = ("otter", "comet", "panda", "falcon", "noodle", "maple", "tiger", "pebble", "rocket",
        "koala", "mango", "wizard", "badger", "lynx", "waffle", "orbit", "fox", "puffin", "cactus")
BIO = ("dance videos and bad jokes", "cat person", "skate or die", "just here for the recipes",
       "football every weekend", "makeup tutorials", "minecraft builds", "travel diaries",
       "gym progress", "aspiring chef", "music is life", "art and doodles", "plant parent",
       "anime fan", "coffee first", "lover of sunsets", "books and rain", "speedrunner")
CAPTION = ("new dance challenge", "look at this sunset", "my cat again", "first try!", "weekend vibes",
           "school is over", "trying the new filter", "road trip", "best pizza ever", "duet with me",
           "learning guitar", "rainy day", "park with friends", "slow motion fail", "outfit check")
MESSAGE = ("hey!", "did you see my new video?", "lol that was funny", "wanna collab?",
           "follow me back pls", "what song is that", "see you tomorrow", "nice edit", "where was that?")
# The self-declared age forms of docs/audit.md ("{a}" is the age).
AGE_FORMS = ("I'm {a}", "I am {a}", "I am {a} years old", "{a} y/o", "{a}yo", "age {a}", "{a} years old")
METHODS_VERIFIED = ("card_check", "id_document", "video_call", "knowledge_based")
