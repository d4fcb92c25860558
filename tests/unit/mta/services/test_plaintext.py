"""Plain text derived from a version's HTML: blocks, breaks, links, entities, hidden parts,
and Handlebars tags passing through for the renderer."""

from __future__ import annotations

import pytest

from mta.services.plaintext import html_to_text


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("<p>Hello</p><p>World</p>", "Hello\n\nWorld"),
        ("Line one<br>Line two<br/>three", "Line one\nLine two\nthree"),
        ("<div>a</div><div>b</div>", "a\nb"),
        ("<ul><li>one</li><li>two</li></ul>", "one\ntwo"),
        ("<h1>Title</h1>Body", "Title\nBody"),
        ('<a href="https://x.example/p">Shop</a>', "Shop (https://x.example/p)"),
        ('<a href="https://x.example/">https://x.example/</a>', "https://x.example/"),
        ('<a href="#top">Top</a>', "Top"),
        ('<a href="mailto:a@b.c">Write</a>', "Write"),
        ('<a href="https://x.example/"><img src="logo.png"></a>', "https://x.example/"),
        ("Tom &amp; Jerry &lt;3 &nbsp;x", "Tom & Jerry <3 x"),
        ("<style>p {color: red}</style><p>Shown</p>", "Shown"),
        ("<head><title>T</title></head><body>B<script>alert(1)</script></body>", "B"),
        ("  lots   of\n\n\n   space  ", "lots of space"),
        ("<p>a</p>\n\n\n\n<p>b</p>", "a\n\nb"),
        (
            "<p>Hi {{name}}</p>{{#if vip}}<p>VIP</p>{{/if}}",
            "Hi {{name}}\n\n{{#if vip}}\n\nVIP\n\n{{/if}}",
        ),
        ('<a href="{{url}}">Go</a>', "Go ({{url}})"),
        ("<p>{{{raw}}}</p>", "{{{raw}}}"),
        ("", ""),
    ],
)
def test_html_to_text(html: str, text: str) -> None:
    assert html_to_text(html) == text
