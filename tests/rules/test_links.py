"""Links as a browser reads them: what a rule file and a product feed may call
a path on the shop, and what an http(s) address."""

from __future__ import annotations

import pytest

import rules
from rules.links import LinkKind, UnsafeLink, read_link


@pytest.mark.parametrize(("link", "kind"), [
    ("/coupon/download?code=LOYAL15", LinkKind.PATH),
    ("?tab=review", LinkKind.PATH),
    ("#reviews", LinkKind.PATH),
    ("join", LinkKind.PATH),
    ("/search?q=a\\b", LinkKind.PATH),  # the query keeps its backslashes
    ("/coupon#a\\b", LinkKind.PATH),
    ("https://brand.example/lookbook", LinkKind.ADDRESS),
    ("HTTP://shop.example.com/sale", LinkKind.ADDRESS),
])
def test_paths_and_addresses(link: str, kind: LinkKind) -> None:
    assert read_link(link) is kind


@pytest.mark.parametrize(("link", "problem"), [
    # Before the query a browser reads "\" as "/": each of these starts a host.
    ("/\\evil.example/phish", "is protocol-relative: a browser reads \\ as /"),
    ("\\/evil.example/phish", "is protocol-relative: a browser reads \\ as /"),
    ("\\\\evil.example/phish", "is protocol-relative: a browser reads \\ as /"),
    ("//evil.example/phish", "is protocol-relative"),
    ("/coupon\\download", "has a backslash"),
    ("https://shop.example.com\\@evil.example/", "has a backslash"),
    ("https:evil.example", "is not a whole address"),
    ("https:///evil.example", "is not a whole address"),
    ("javascript:alert(1)", "uses the 'javascript:' scheme"),
    ("/\t/evil.example", "contains spaces or control characters"),
    ("/\n/evil.example", "contains spaces or control characters"),
    ("(x)", "is not a URL"),
    # What the widget refuses at run time is refused here too, not compiled into
    # a button that silently has no link.
    ("/a\u00a0b", "contains spaces or control characters"),
    ("/a\u3000b", "contains spaces or control characters"),
    ("/a\ufeffb", "contains spaces or control characters"),
    ("https://:evil.example/x", "is not a whole address"),
])
def test_links_that_would_not_go_where_they_read_are_refused(link: str, problem: str) -> None:
    with pytest.raises(UnsafeLink) as info:
        read_link(link)
    assert str(info.value).startswith(problem)


def test_the_compiler_names_the_link_where_it_is_written() -> None:
    compiled = rules.check("""site: s
rules:
  - id: a
    do: {widget: popcorn_button, text: 쿠폰, link: '/\\evil.example/phish'}
""", "s.yaml")
    assert compiled.ruleset is None
    [problem] = compiled.errors
    assert (problem.line, problem.column) == (4, 50)
    assert problem.message == ("unsafe link: '/\\evil.example/phish' is protocol-relative: "
                               "a browser reads \\ as /, so it leaves the shop")
    assert problem.hint == "links must be http(s) URLs or paths on the shop, like /coupon?code=X"
