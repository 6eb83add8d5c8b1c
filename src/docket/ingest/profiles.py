"""Document profiles: what a document is, read from its own text and metadata with rules.

At ingest every document gets a :class:`~docket.types.Profile`: its title, the organisation(s) it
is about, its type, the date it was issued and the period it reports on, with the fiscal year and
quarter where the document names them. No model is involved; each field comes from a rule that
reads the first pages (where covers, letterheads and title blocks are), the metadata the parser
found (PDF information, front matter, e-mail headers) and, for organisations, how often a
company-like name recurs in the whole text.

The rules, in the order they are tried:

- **organisations**: a filing's registrant (the line above "(Exact name of registrant as
  specified in its charter)"); a labelled field ("Sponsor:", "Company:", "Vendor:", "Prepared
  for:"…); a front-matter or metadata field (``organization``, ``company``); a line of the first
  page that is an institution's name and nothing else ("National Transportation Safety Board",
  "Al-Azhar University"); then names that end in a legal form (Inc., Corporation, plc, GmbH,
  LLC…) ranked by how often they occur, a name on the first page counting double. At most three
  are kept.
- **type**: the form a filing states (10-K, 10-Q, 8-K, 20-F…), then phrases such as "reports
  fourth quarter results" (earnings release), "Accident Report", "Protocol" with "study"/"trial",
  "Invoice", "Agreement", "Handbook", "Policy", "Minutes".
- **period**: the day of the accident or incident a report is about ("Date & Time: …"); "for
  the fiscal year ended …", "for the quarterly period ended …", "three/six/nine
  months ended …", "as of …"; the fiscal year and quarter from "fiscal 2023", "second quarter of
  fiscal 2024", "Q2 FY24" where the document says so, else from the period's end.
- **date**: "Report Date: …", "Date of Report …", "Dated …", "Date: …", front matter, the PDF's creation date,
  else the first full date on the first page.

Every rule is generic: none knows a particular company or file. Profiles are stored with the
document (``metadata["profile"]``); an admin's corrections (``docket documents set-profile``) are
kept across re-ingests (:func:`merge_edits`).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

from docket.types import ParsedDocument, Profile

__all__ = [
    "PROFILE_KEY",
    "extract_profile",
    "find_dates",
    "merge_edits",
    "org_key",
    "parse_date",
    "profile_of",
]

PROFILE_KEY = "profile"
_HEAD_CHARS = 6000  # the first page or two: covers, letterheads, title blocks
_BODY_CHARS = 200_000  # how much of the text is counted for recurring names

_MONTH_NAMES = {
    "january": 1,
    "february": 2,
    "march": 3,
    "april": 4,
    "may": 5,
    "june": 6,
    "july": 7,
    "august": 8,
    "september": 9,
    "october": 10,
    "november": 11,
    "december": 12,
}
_MONTH_ALT = "|".join(
    sorted(
        {name for name in _MONTH_NAMES} | {name[:3] for name in _MONTH_NAMES} | {"sept"},
        key=len,
        reverse=True,
    )
)
# "July 1, 2023", "Jul. 1 2023", "1 July 2023", "2023-07-01", "07/01/2023", "Oct-16-2023"
_DATE = re.compile(
    rf"(?P<mdy>\b(?P<m1>{_MONTH_ALT})\.?\s+(?P<d1>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<y1>(?:19|20)\d\d)\b)"
    rf"|(?P<dmy>\b(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<m2>{_MONTH_ALT})\.?,?\s+(?P<y2>(?:19|20)\d\d)\b)"
    r"|(?P<iso>\b(?P<y3>(?:19|20)\d\d)-(?P<m3>\d\d)-(?P<d3>\d\d)\b)"
    r"|(?P<us>\b(?P<m4>\d{1,2})/(?P<d4>\d{1,2})/(?P<y4>(?:19|20)\d\d)\b)"
    rf"|(?P<dash>\b(?P<m5>{_MONTH_ALT})-(?P<d5>\d{{1,2}})-(?P<y5>(?:19|20)\d\d)\b)",
    re.IGNORECASE,
)

_LEGAL_FORMS = (
    r"Inc\.?|Incorporated|Corporation|Corp\.?|Company|Co\.|LLC|L\.L\.C\.|Ltd\.?|Limited|plc|PLC|P\.L\.C\.|"
    r"GmbH|AG|S\.A\.|SA|N\.V\.|NV|B\.V\.|LLP|LP|L\.P\.|Pty\.? Ltd\.?|S\.p\.A\.|SE|Oy|AB|ASA"
)
# A run of capitalised words (with &, -, ., ', digits) ending in a legal form: "Best Buy Co., Inc."
_COMPANY = re.compile(
    rf"\b((?:The\s+)?(?:[A-Z0-9][\w&'’.\-]*,?\s+){{0,5}}?[A-Z0-9][\w&'’.\-]*,?\s+(?:{_LEGAL_FORMS})"
    rf"(?:,?\s+(?:Inc\.?|Ltd\.?|LLC))?)(?![\w])"
)
_REGISTRANT = re.compile(r"^(.{2,120}?)\s*\n\s*\(?\s*exact name of registrant", re.IGNORECASE | re.MULTILINE)
_LABELLED = re.compile(
    r"^\s*(?:sponsor(?:ed by)?|company(?: name)?|organi[sz]ation|operator|registrant|issuer|vendor|supplier|"
    r"seller|bill(?:ed)? from|employer|prepared for|prepared by|client|customer|lender|borrower|landlord|tenant)"
    r"\s*[:\-–]\s*(.{2,200})$",
    re.IGNORECASE | re.MULTILINE,
)
# a line of a letterhead or title page that is an institution's name and nothing else:
# "National Transportation Safety Board", "Al-Azhar University", "Faculty of Dental Medicine for Girls"
_INSTITUTION = re.compile(
    r"^[ \t]*(?:The\s+)?(?:[A-Z][\w&'’.-]*\s+){0,6}?"
    r"(?:University|Hospital|Institute|College|Board|Foundation|Trust|Council|Agency|Authority|Ministry|Clinic|"
    r"School|Faculty|Academy|Commission|Society|Association)"
    r"(?:,?\s+(?:of|for|de|and|at|in)\s+[A-Z][\w&'’.-]*(?:\s+(?:[A-Z][\w&'’.-]*|of|for|and|the))*)?[ \t]*$",
    re.MULTILINE,
)
_NOT_INSTITUTION = re.compile(r"\bboard of directors\b|\bsecurities and exchange\b|\bcommission file\b", re.I)
_SHORT_NAME = re.compile(r"\(\s*[\"“]([A-Z][\w&.\- ]{1,40})[\"”]\s*(?:,|or|and|\))")
_NOT_ORGS = re.compile(
    r"stock exchange|securities and exchange|exchange commission|nasdaq|internal revenue|registrant|file number|"
    r"^(the |our |this |such )?(company|corporation|group)$|^(inc|co|ltd|llc|group|holdings)\.?$|"
    r"^(on file|n/?a|none|unknown|not applicable|withheld|redacted|private|individual)$",
    re.IGNORECASE,
)

# doc type: (pattern on the head of the text, label); first match wins
_FORMS = re.compile(r"\bFORM\s+(10-K(?:405)?|10-Q|8-K|20-F|40-F|6-K|S-1|S-4|DEF\s*14A|10-KT)\b", re.IGNORECASE)
_TYPES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), label)
    for pattern, label in (
        (
            r"\b(reports?|announces?|delivers?|posts?)\b[^.\n]{0,80}\b(results|earnings)\b"
            r"|\b(earnings|results) (press )?release\b",
            "earnings release",
        ),
        (r"\baccident (final |factual )?report\b|\bincident report\b", "accident report"),
        (
            r"\b(study|trial) protocol\b|\bprotocol\b[^\n]{0,200}\b(study|trial)\b|\bclinical (study|trial)\b"
            r"|\bresearch proposal\b|\brandomi[sz]ed (controlled |clinical )?trial\b|\bprincipal investigator\b",
            "protocol",
        ),
        (r"\binformed consent\b", "consent form"),
        (r"\bannual report\b", "annual report"),
        (r"\bquarterly report\b", "quarterly report"),
        (r"\b(tax )?invoice\b", "invoice"),
        (r"\breceipt\b", "receipt"),
        (r"\bpurchase order\b", "purchase order"),
        (r"\b(quotation|quote|estimate) (no|number|#)", "quote"),
        (r"\bstatement of work\b", "statement of work"),
        (r"\b(agreement|contract)\b", "contract"),
        (r"\bhandbook\b", "handbook"),
        (r"\bminutes of\b|\bmeeting minutes\b", "minutes"),
        (r"\bpolicy\b", "policy"),
        (r"\bpress release\b", "press release"),
    )
)
_TYPE_HEAD = 400  # type phrases count in the title and the first lines (a handbook mentions "invoice" somewhere)

_ENDED = r"(?:ended|ending)\s*:?\s*"
_ANNUAL_END = re.compile(rf"(?<![A-Za-z])for\s+the\s+(?:fiscal\s+)?year\s+{_ENDED}", re.IGNORECASE)
_QUARTER_END = re.compile(
    rf"(?<![A-Za-z])for\s+the\s+(?:quarterly\s+period|quarter|three\s+months|thirteen\s+weeks|13\s+weeks)\s+{_ENDED}",
    re.IGNORECASE,
)
_MONTHS_ENDED = re.compile(rf"\b(three|six|nine|twelve|3|6|9|12)\s+months\s+{_ENDED}", re.IGNORECASE)
_AS_OF = re.compile(r"\bas (?:of|at)\s+", re.IGNORECASE)
_STATED_ISSUE = re.compile(
    r"\b(?:report date|date of report|date of issue|issue date|date issued|publication date)\s*[:\-]?\s*", re.IGNORECASE
)
# when what a report is about happened: an accident's "Date & Time:", "Date of incident:"
_EVENT_DATE = re.compile(
    r"\b(?:date\s*(?:&|and)\s*time|date of (?:the )?(?:accident|incident|occurrence|event|loss))\s*:?\s*",
    re.IGNORECASE,
)
_REPORT_DATE = re.compile(
    r"\b(?:date of report|dated|date of issue|issue date|invoice date|date)\b[^:\n]{0,60}[:\-]?\s*", re.IGNORECASE
)
_FISCAL_YEAR = re.compile(r"\b(?:fiscal|FY)\s*(?:year\s*)?'?((?:19|20)?\d\d)\b", re.IGNORECASE)
_ORDINAL_QUARTER = re.compile(
    r"\b(first|second|third|fourth|1st|2nd|3rd|4th)\s+(?:fiscal\s+)?quarter\b(?:\s+(?:of\s+)?(?:fiscal\s+)?"
    r"(?:year\s+)?((?:19|20)\d\d))?",
    re.IGNORECASE,
)
_Q_LABEL = re.compile(r"\bQ([1-4])\s*[' ]?\s*(?:FY\s*)?'?((?:19|20)?\d\d)?\b", re.IGNORECASE)
_ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "1st": 1, "2nd": 2, "3rd": 3, "4th": 4}


def parse_date(match: re.Match[str]) -> date | None:
    """The date a :data:`_DATE` match spells, or None when it is no real date."""
    groups = match.groupdict()
    try:
        if groups["mdy"]:
            month, day, year = _MONTH_NAMES[_month(groups["m1"])], int(groups["d1"]), int(groups["y1"])
        elif groups["dmy"]:
            month, day, year = _MONTH_NAMES[_month(groups["m2"])], int(groups["d2"]), int(groups["y2"])
        elif groups["iso"]:
            year, month, day = int(groups["y3"]), int(groups["m3"]), int(groups["d3"])
        elif groups["us"]:
            month, day, year = int(groups["m4"]), int(groups["d4"]), int(groups["y4"])
        else:
            month, day, year = _MONTH_NAMES[_month(groups["m5"])], int(groups["d5"]), int(groups["y5"])
        return date(year, month, day)
    except (ValueError, KeyError):
        return None


def _month(text: str) -> str:
    text = text.lower().rstrip(".")
    for name in _MONTH_NAMES:
        if name.startswith(text[:3]):
            return name
    raise KeyError(text)


def find_dates(text: str) -> list[tuple[int, date]]:
    """Every full date in ``text`` with its offset, in order."""
    out = []
    for match in _DATE.finditer(text):
        found = parse_date(match)
        if found is not None:
            out.append((match.start(), found))
    return out


def _dates_after(text: str, pattern: re.Pattern[str], within: int = 40) -> list[date]:
    """The dates that start within ``within`` characters after each match of ``pattern``."""
    out = []
    for match in pattern.finditer(text):
        tail = text[match.end() : match.end() + within + 30]
        for offset, found in find_dates(tail):
            if offset <= within:
                out.append(found)
                break
    return out


def _date_after(text: str, pattern: re.Pattern[str], within: int = 40) -> date | None:
    """The first date that starts within ``within`` characters after a match of ``pattern``."""
    found = _dates_after(text, pattern, within)
    return found[0] if found else None


def _latest_after(text: str, pattern: re.Pattern[str], within: int = 40) -> date | None:
    """The latest such date: a report's own period is its newest (the others are comparatives)."""
    found = _dates_after(text, pattern, within)
    return max(found) if found else None


def org_key(name: str) -> str:
    """A comparable form of an organisation's name: lower case, legal form, "the" and a trailing
    ``.com`` removed, punctuation as spaces. ``"The Coca-Cola Company"`` -> ``"coca cola"``."""
    text = name.lower().replace("&", " and ")
    text = re.sub(r"\.com\b", "", text)
    text = re.sub(r"[^\w]+", " ", text).strip()
    words = text.split()
    forms = {
        "inc",
        "incorporated",
        "corporation",
        "corp",
        "company",
        "co",
        "llc",
        "l",
        "c",
        "ltd",
        "limited",
        "plc",
        "p",
        "gmbh",
        "ag",
        "sa",
        "s",
        "a",
        "nv",
        "n",
        "v",
        "bv",
        "b",
        "llp",
        "lp",
        "pty",
        "spa",
        "se",
        "oy",
        "ab",
        "asa",
    }
    while words and words[-1] in forms:
        words.pop()
    if words and words[0] == "the":
        words = words[1:]
    return " ".join(words) or text


def _clean_name(raw: str) -> str:
    name = re.sub(r"[_=]{3,}|-{3,}", " ", raw)
    name = re.sub(r"\s+", " ", name).strip(" ,;:-–\t\"'“”()[]")
    if re.search(r"\b(Inc|Co|Corp|Ltd)$", name):
        name += "."
    return name


def _plausible(name: str) -> bool:
    key = org_key(name)
    if _NOT_ORGS.search(name.strip().lower()):
        return False
    return 1 < len(key) <= 80 and not _NOT_ORGS.search(key) and any(c.isalpha() for c in key) and len(key.split()) <= 8


_FILE_NUMBER = re.compile(r"^.*?\bfile\s+(?:number|no\.?)\s*:?\s*[\d\-]+\.?\s*", re.IGNORECASE)
_AFTER_FILE_NUMBER = re.compile(
    r"\bcommission\s+file\s+(?:number|no\.?)\s*:?\s*[\d\-]+\.?[ _]*\n\s*([^\n]{2,80})\n", re.IGNORECASE
)


def _registrant(head: str) -> str | None:
    """A filing's registrant: the name above "(Exact name of registrant…)", or on the line after
    the commission file number."""
    flat = re.sub(r"\s+", " ", head)
    for match in _REGISTRANT.finditer(head):
        line = _FILE_NUMBER.sub("", match.group(1).splitlines()[-1])
        if _plausible(_clean_name(line)):
            return line
    found = re.search(r"(.{2,120}?)\s*\(\s*exact name of registrant", flat, re.IGNORECASE)
    if found:
        tail = _FILE_NUMBER.sub("", found.group(1))
        company = list(_COMPANY.finditer(tail))
        candidate = company[-1].group(1) if company else tail
        if _plausible(_clean_name(candidate)):
            return candidate
    after = _AFTER_FILE_NUMBER.search(head)
    if after and _plausible(_clean_name(after.group(1))) and not re.search(r"\d{3}", after.group(1)):
        return after.group(1)
    return None


def _spelling(name: str, body: str) -> str:
    """An upper-case name as the document writes it in running text ("BEST BUY CO., INC." ->
    "Best Buy Co., Inc."), when it does; else as given."""
    if not name.isupper():
        return name
    words = [re.escape(w.rstrip(".")) for w in name.replace(",", " ").split()]
    pattern = re.compile(r"\b" + r"\.?,?\s+".join(words) + r"\.?(?![\w])", re.IGNORECASE)
    spellings = Counter(m.group(0) for m in pattern.finditer(body) if not m.group(0).isupper())
    if spellings:
        return re.sub(r"\s+", " ", spellings.most_common(1)[0][0])
    return name


def _organizations(head: str, body: str, metadata: Mapping[str, Any]) -> list[str]:
    found: list[str] = []

    def add(name: str) -> None:
        name = _spelling(_clean_name(name), body)
        if _plausible(name) and all(org_key(name) != org_key(f) for f in found):
            found.append(name)

    registrant = _registrant(head)
    if registrant:
        add(registrant)
    for match in _LABELLED.finditer(head):
        # a form's next field on the same line ends the value: "Operator: Acme Air Operating Certificate(s) Held: …"
        value = re.split(r"\s{3,}|\t| \| |\s+(?:[A-Z][\w()/&'’-]*\s+){0,4}[A-Z]?[\w()/&'’-]+:", match.group(1))[0]
        value = re.sub(r"(?:^|\s+)(?:[A-Z][a-z]+\s+)?\w+\(s\)\s*$", "", value.strip())
        if _COMPANY.search(value) or len(value.split()) <= 6:
            add(value)
    for key in ("organization", "organisation", "company", "sponsor", "vendor", "customer"):
        value = metadata.get(key)
        if isinstance(value, str):
            add(value)
    # a letterhead's institution: after what the document names as its subject ("Operator: …"),
    # since a report is about the operator more than by the board that wrote it
    institutions = Counter(
        m.group(0).strip() for m in _INSTITUTION.finditer(head[:2500]) if not _NOT_INSTITUTION.search(m.group(0))
    )
    for name, _ in institutions.most_common(2):
        add(name)
    if found:
        return found[:3]
    counts: Counter[str] = Counter()
    spelled: dict[str, str] = {}
    for text, weight in ((head[:1500], 3), (body, 1)):
        for match in _COMPANY.finditer(text):
            name = _clean_name(match.group(1))
            if not _plausible(name):
                continue
            key = org_key(name)
            counts[key] += weight
            if key not in spelled or (spelled[key].isupper() and not name.isupper()):
                spelled[key] = name
    ranked = counts.most_common(8)
    if not ranked or ranked[0][1] < 2:
        return []
    top = ranked[0][1]
    for key, count in ranked:
        # another name counts only when it recurs nearly as often and is not a longer or shorter
        # form of one already kept ("Contents 3M Company" beside "3M Company")
        if found and (count < 3 or count * 5 < top * 3):
            continue
        if any(key in org_key(f) or org_key(f) in key for f in found):
            continue
        add(spelled[key])
    return found[:3]


def _doc_type(head: str, title: str) -> str | None:
    form = _FORMS.search(head[:4000])
    if form:
        return re.sub(r"\s+", " ", form.group(1).upper())
    for text in (title, head[:_TYPE_HEAD]):  # what the title says outranks what the first page mentions
        for pattern, label in _TYPES:
            if pattern.search(text):
                return label
    return None


def _fiscal_mentions(text: str) -> Counter[int]:
    years: Counter[int] = Counter()
    for match in _FISCAL_YEAR.finditer(text):
        value = match.group(1)
        year = int(value) if len(value) == 4 else 2000 + int(value)
        if 1950 <= year <= 2100:
            years[year] += 1
    return years


def _quarter_mentions(text: str) -> Counter[tuple[int, int | None]]:
    quarters: Counter[tuple[int, int | None]] = Counter()
    for match in _ORDINAL_QUARTER.finditer(text):
        quarters[(_ORDINALS[match.group(1).lower()], int(match.group(2)) if match.group(2) else None)] += 1
    for match in _Q_LABEL.finditer(text):
        value = match.group(2)
        year = None if not value else (int(value) if len(value) == 4 else 2000 + int(value))
        quarters[(int(match.group(1)), year)] += 1
    return quarters


def _period(head: str, doc_type: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if doc_type in _EVENT_TYPES:
        return out  # a current report or an invoice is dated, it covers no period
    if doc_type in _INCIDENT_TYPES:
        event = _date_after(head[:3000], _EVENT_DATE, within=5)
        if event is not None:  # an accident report is about the day of the accident
            return {"period_start": event, "period_end": event, "quarterly": False}
    annual = _latest_after(head, _ANNUAL_END)
    quarter = _latest_after(head, _QUARTER_END)
    quarterly_form = doc_type in ("10-Q", "6-K", "quarterly report")
    if quarter is not None and (quarterly_form or annual is None or quarter > annual):
        out["period_end"] = quarter
        out["period_start"] = quarter - timedelta(days=90)
        out["quarterly"] = True
    elif annual is not None:
        out["period_end"] = annual
        out["period_start"] = date(annual.year - 1, annual.month, 1) + timedelta(days=annual.day)
        out["quarterly"] = False
    else:
        top = head[:2500]
        spans = []
        for match in _MONTHS_ENDED.finditer(top):
            found = _date_after(top[match.start() :], _MONTHS_ENDED)
            if found is not None:
                spans.append((match.group(1).lower(), found))
        if spans:
            length = {"three": 3, "3": 3, "six": 6, "6": 6, "nine": 9, "9": 9, "twelve": 12, "12": 12}
            word, end = max(spans, key=lambda span: span[1])
            out["period_end"] = end
            out["period_start"] = end - timedelta(days=30 * length[word])
            out["quarterly"] = length[word] == 3
    if "period_end" not in out:
        as_of = _date_after(head[:3000], _AS_OF, within=5)
        if as_of is not None:
            out["as_of"] = as_of
    return out


_INCIDENT_TYPES = ("accident report", "incident report")
_EVENT_TYPES = ("8-K", "6-K", "invoice", "receipt", "purchase order", "quote", "press release", "consent form")


_MONTHS_TO_QUARTER = {"three": 1, "3": 1, "six": 2, "6": 2, "nine": 3, "9": 3}


def _fiscal(head: str, body: str, period: Mapping[str, Any], doc_type: str | None) -> tuple[int | None, int | None]:
    """The document's own fiscal year and quarter labels.

    A fiscal year is named by the calendar year it ends in, unless the document says otherwise
    ("fiscal 2016" for the year ended 28 January 2017). A quarterly report's quarter is the one it
    names ("second quarter of fiscal 2024", "Q2"), else the longest year-to-date column it shows
    (six months ended → Q2); its fiscal year is then the one that quarter falls in.
    """
    years = _fiscal_mentions(head)
    end: date | None = period.get("period_end")
    quarterly = bool(period.get("quarterly")) or doc_type in ("10-Q", "quarterly report")
    quarter: int | None = None
    if quarterly or doc_type == "earnings release":
        named = _quarter_mentions(head[:3000])
        if named:
            quarter = max(named.items(), key=lambda item: (item[1], item[0][1] or 0))[0][0]
        elif quarterly and end is not None:
            to_date = [
                _MONTHS_TO_QUARTER[m.group(1).lower()]
                for m in _MONTHS_ENDED.finditer(body)
                if m.group(1).lower() in _MONTHS_TO_QUARTER
            ]
            quarter = max(to_date) if to_date else None
    if end is None:
        return (years.most_common(1)[0][0] if years else None), quarter
    if quarterly and quarter is not None:  # the year ends about (4 - quarter) quarters later
        return (end + timedelta(days=91 * (4 - quarter) - 15)).year, quarter
    year = end.year
    if years[end.year - 1] > years[end.year]:
        year = end.year - 1
    return year, quarter


def _issue_date(head: str, metadata: Mapping[str, Any], title: str = "", end: date | None = None) -> date | None:
    stated = _date_after(head, _STATED_ISSUE, within=12) or _date_after(head[:3000], _REPORT_DATE, within=12)
    if stated is not None:
        return stated
    for key in ("date", "created", "sent"):
        value = metadata.get(key)
        if isinstance(value, str):
            dates = find_dates(value)
            found = dates[0][1] if dates else None
            if found is None:
                try:
                    found = date.fromisoformat(value[:10])
                except ValueError:
                    continue
            if end is not None and (found - end).days > 400:
                continue  # a file saved again years after the period it reports on: not when it was issued
            return found
    in_title = find_dates(title)
    if in_title:  # "10-K - 02/07/2019 - 3M Company"
        return in_title[0][1]
    first = find_dates(head[:1500])
    return first[0][1] if first else None


_UNICODE_SPACES = re.compile(r"[\t\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]+")


def _normalise(text: str) -> str:
    return _UNICODE_SPACES.sub(" ", text.replace("\r\n", "\n").replace("\r", "\n"))


def extract_profile(parsed: ParsedDocument, title: str, path: str = "") -> Profile:
    """The profile of one parsed document (see the module docstring for the rules)."""
    text = _normalise(parsed.text[:_BODY_CHARS])
    head = text[:_HEAD_CHARS]
    metadata = parsed.metadata
    doc_type = _doc_type(head, title)
    period = _period(head, doc_type)
    fiscal_year, fiscal_quarter = _fiscal(head, text[:40_000], period, doc_type)
    organizations = _organizations(head, text, metadata)
    end: date | None = period.get("period_end") or period.get("as_of")
    issued = _issue_date(head, metadata, title, end)
    start: date | None = period.get("period_start")
    dated = issued or end
    return Profile(
        title=title,
        organizations=tuple(organizations),
        doc_type=doc_type,
        date=dated.isoformat() if dated else None,
        period_start=start.isoformat() if start else None,
        period_end=end.isoformat() if end else None,
        fiscal_year=fiscal_year if (end is not None or doc_type in _PERIODIC) else None,
        fiscal_quarter=fiscal_quarter,
    )


_PERIODIC = ("10-K", "10-Q", "20-F", "40-F", "annual report", "quarterly report", "earnings release")


def merge_edits(extracted: Profile, previous: Mapping[str, Any] | None) -> Profile:
    """``extracted`` with the fields an admin set by hand on the ``previous`` profile kept."""
    old = Profile.from_dict(previous)
    if not old.edited:
        return extracted
    return replace(extracted, **{name: getattr(old, name) for name in old.edited}, edited=old.edited)


def profile_of(metadata: Mapping[str, Any]) -> Profile:
    """The profile stored in a document's metadata (empty for documents indexed before profiles)."""
    value = metadata.get(PROFILE_KEY)
    return Profile.from_dict(value if isinstance(value, Mapping) else None)
