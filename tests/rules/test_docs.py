from __future__ import annotations

from pathlib import Path

from rules.catalogue import CATALOGUE
from rules.docs import attributes_markdown

DOC = Path(__file__).resolve().parents[2] / "docs" / "attributes.md"


def test_attributes_doc_is_generated_from_the_catalogue() -> None:
    # Regenerate with: python -m rules.docs > docs/attributes.md
    assert DOC.read_text(encoding="utf-8") == attributes_markdown()


def test_catalogue_covers_what_design_lists() -> None:
    design = ("visit_count is_first_visit first_seen last_seen days_since_last_visit "
              "pageviews_total purchase_count purchase_total days_since_last_purchase is_member "
              "member_grade member_name coupons ad_visit_count tags visits_7d "
              "purchase_count_90d purchase_total_30d session_pageviews session_seconds "
              "landing_url traffic_source utm_source utm_medium utm_campaign device page_path "
              "page_url page_type product_id category cart_items cart_count cart_total "
              "product_viewers_now hour_of_day weekday").split()
    assert [name for name in design if name not in CATALOGUE] == []
