"""Document profiles read from real documents nobody here wrote (../shared/data)."""

from __future__ import annotations

import functools
import io
from pathlib import Path

import pytest

from docket.ingest.parsers import parse_bytes
from docket.ingest.profiles import extract_profile, merge_edits, org_key
from docket.types import Block, ParsedDocument, Profile

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
FILINGS = DATA / "financebench-dev" / "pdfs"
NTSB = DATA / "docugami-kg-rag-raw-pdfs" / "ntsb-aviation-incident-accident-reports" / "data" / "v1" / "docs"
PROTOCOLS = DATA / "docugami-kg-rag-raw-pdfs" / "nih-clinical-trial-protocols" / "data" / "v1" / "docs"

needs_data = pytest.mark.skipif(not FILINGS.is_dir(), reason="../shared/data is not here")


@functools.cache
def _profile(path: Path, pages: int = 12) -> Profile:
    """The profile of the document's first ``pages`` pages (covers, contents and the first statements:
    what the rules read; the whole of a 200-page filing would only slow the test down)."""
    data = path.read_bytes()
    if path.suffix == ".pdf":
        from pypdf import PdfReader, PdfWriter

        writer = PdfWriter()
        for page in PdfReader(io.BytesIO(data)).pages[:pages]:
            writer.add_page(page)
        buffer = io.BytesIO()
        writer.write(buffer)
        data = buffer.getvalue()
    parsed = parse_bytes(data, path.name)
    return extract_profile(parsed, parsed.title or path.stem, path.name)


@needs_data
@pytest.mark.parametrize(
    ("file", "organization", "doc_type", "period_end", "fiscal_year", "fiscal_quarter"),
    [
        # annual reports: the registrant, the form, the year the report covers
        ("3M_2018_10K.pdf", "3m", "10-K", "2018-12-31", 2018, None),
        ("MICROSOFT_2016_10K.pdf", "microsoft", "10-K", "2016-06-30", 2016, None),  # no "(Exact name…)" line
        ("BESTBUY_2017_10K.pdf", "best buy", "10-K", "2017-01-28", 2017, None),  # a year ending in January
        ("COCACOLA_2017_10K.pdf", "coca cola", "10-K", "2017-12-31", 2017, None),  # the cover's name is an image
        # quarterly reports: the quarter, and the fiscal year it falls in
        ("AMCOR_2023Q2_10Q.pdf", "amcor", "10-Q", "2022-12-31", 2023, 2),  # fiscal year ends in June
        ("BESTBUY_2024Q2_10Q.pdf", "best buy", "10-Q", "2023-07-29", 2024, 2),
        ("Pfizer_2023Q2_10Q.pdf", "pfizer", "10-Q", "2023-07-02", 2023, 2),
    ],
)
def test_filings_get_their_registrant_form_and_period(
    file: str, organization: str, doc_type: str, period_end: str, fiscal_year: int, fiscal_quarter: int | None
) -> None:
    profile = _profile(FILINGS / file)
    assert org_key(profile.organizations[0]) == organization
    assert profile.doc_type == doc_type
    assert profile.period_end == period_end
    assert (profile.fiscal_year, profile.fiscal_quarter) == (fiscal_year, fiscal_quarter)


@needs_data
def test_a_current_report_is_dated_and_covers_no_period() -> None:
    profile = _profile(FILINGS / "AMCOR_2022_8K_dated-2022-07-01.pdf")
    assert profile.doc_type == "8-K"
    assert profile.date == "2022-07-01"
    assert profile.period_end is None
    assert profile.label() == "Amcor plc 8-K, dated 1 Jul 2022"


@needs_data
def test_labels_name_the_organisation_form_and_period() -> None:
    assert _profile(FILINGS / "AMCOR_2023Q2_10Q.pdf").label() == "Amcor plc 10-Q, quarter ended 31 Dec 2022 (Q2 FY2023)"
    assert _profile(FILINGS / "3M_2018_10K.pdf").label() == "3M Company 10-K, year ended 31 Dec 2018 (FY2018)"


@pytest.mark.skipif(not NTSB.is_dir(), reason="../shared/data is not here")
def test_an_accident_report_names_its_operator_not_the_next_form_field() -> None:
    profile = _profile(NTSB / "20080104X00020.pdf")
    assert profile.doc_type == "accident report"
    assert profile.organizations == ("Wausau Flying Service", "National Transportation Safety Board")
    assert profile.period_start == profile.period_end == "2007-12-08"  # "Date & Time: 12/08/2007, …"
    assert profile.date == "2008-01-31"  # "Report Date: 01/31/2008", on its last page
    assert profile.label() == "Wausau Flying Service accident report, on 8 Dec 2007"


@pytest.mark.skipif(not PROTOCOLS.is_dir(), reason="../shared/data is not here")
def test_a_research_proposal_is_a_protocol_of_the_institutions_on_its_title_page() -> None:
    profile = _profile(PROTOCOLS / "NCT06154122_Prot_000.pdf")
    assert profile.doc_type == "protocol"
    assert "Glasgow Caledonian University" in profile.organizations


def test_a_handbook_page_names_no_organisation_it_does_not_state() -> None:
    text = "# New Parent Leave\n\nClef offers 12 weeks of paid leave for all full time employees."
    profile = extract_profile(ParsedDocument(blocks=(Block(text),)), "New Parent Leave")
    assert profile.organizations == ()
    assert profile.label() == ""  # citations then show the title


def test_company_names_compare_without_legal_form_or_punctuation() -> None:
    assert org_key("The Coca-Cola Company") == "coca cola"
    assert org_key("AMAZON.COM, INC.") == "amazon"
    assert org_key("Best Buy Co., Inc.") == "best buy"


def test_an_admins_corrections_survive_a_new_extraction() -> None:
    edited = Profile(title="Q2", organizations=("Acme Ltd",), fiscal_year=2024, edited=("organizations", "fiscal_year"))
    fresh = Profile(title="Q2 report", organizations=("Acne Ltd",), fiscal_year=2023, doc_type="10-Q")
    merged = merge_edits(fresh, edited.to_dict())
    assert merged.organizations == ("Acme Ltd",) and merged.fiscal_year == 2024
    assert merged.doc_type == "10-Q" and merged.title == "Q2 report"
    assert merged.edited == ("organizations", "fiscal_year")


def test_a_file_saved_again_years_later_is_dated_by_its_title_not_its_metadata() -> None:
    """A 10-K for 2018 whose PDF was last written in 2023: the creation date is no issue date."""
    text = "SECURITIES AND EXCHANGE COMMISSION\nFORM 10-K\nFor the fiscal year ended December 31, 2018\n3M COMPANY"
    parsed = ParsedDocument(blocks=(Block(text),), metadata={"created": "2023-01-05T16:17:20-05:00"})
    profile = extract_profile(parsed, "10-K - 02/07/2019 - 3M Company")
    assert profile.period_end == "2018-12-31" and profile.date == "2019-02-07"
    recent = ParsedDocument(blocks=(Block(text),), metadata={"created": "2019-02-07T09:00:00"})
    assert extract_profile(recent, "Annual report").date == "2019-02-07"  # a plausible creation date stands
