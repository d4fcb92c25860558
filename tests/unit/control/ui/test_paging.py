"""Pagination of dashboard lists: the page a query string asks for, and the links."""

from __future__ import annotations

from control.ui.paging import MAX_PAGE, MAX_PER_PAGE, PER_PAGE, Paging, paging_of, shown


def test_the_query_string_chooses_the_page_and_nonsense_is_the_first() -> None:
    assert paging_of({}) == Paging(1, PER_PAGE)
    assert paging_of({"page": "3", "per_page": "10"}) == Paging(3, 10)
    assert paging_of({"page": "x", "per_page": "-4"}) == Paging(1, 1)
    assert paging_of({"page": "99999999", "per_page": "5000"}) == Paging(MAX_PAGE, MAX_PER_PAGE)
    assert Paging(3, 10).offset == 20 and Paging(3, 10).fetch == 11


def test_one_row_more_than_shown_means_a_next_page() -> None:
    paging = Paging(2, 2)
    page = shown(["c", "d", "e"], paging, {"q": "bounce", "page": "2", "empty": ""})
    assert page.items == ["c", "d"] and page.has_next
    assert page.next_link == "?q=bounce&page=3&per_page=2"
    assert page.previous_link == "?q=bounce&page=1&per_page=2"
    last = shown(["c"], Paging(1, PER_PAGE), {})
    assert last.items == ["c"] and last.next_link is None and last.previous_link is None


def test_a_list_rendered_by_a_form_post_links_to_its_own_path() -> None:
    page = shown(["a", "b"], Paging(1, 1), {"list": "bounces"}, "/ui/suppressions")
    assert page.next_link == "/ui/suppressions?list=bounces&page=2&per_page=1"
